"""The live runtime's acceptance run: a ledger created from an empty file by commands alone
(catalog, packages, customers with pooled and individual seat credits, a parent with two
children), usage from 16 concurrent producers, a rate change, a package change, seats added
and removed. Its journal, exported as a scenario and simulated, gives a byte-identical
ledger export and identical invoices; a restart rebuilds the same state."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import trio

from meterbook.engine import inputs as ins
from meterbook.engine.clock import ManualClock
from meterbook.engine.from_scenario import build_catalog, entry_input
from meterbook.engine.live import LiveRunner
from meterbook.engine.results import Results, encode_json
from meterbook.ledger import Book, export_lines, verify_file
from meterbook.scenarios import format as fmt
from meterbook.scenarios import load_text, parse_at
from meterbook.scenarios.types import Amount
from tests.live_support import feed, live_inputs

SETUP = """
meterbook: 1
start: 2026-01-01
end: 2026-04-01
credit_types: [{id: ai_credit, name: AI credit, decimals: 0, fiat_per_credit: "0.01"}]
products:
  - {id: seat, name: Seat, type: subscription}
  - {id: ai, name: AI, type: usage, metric: {event_type: ai_request, aggregation: sum, property: credits}}
  - {id: compute, name: Compute, type: usage, metric: {event_type: job, aggregation: sum, property: hours}}
rate_cards:
  - id: std
    rates:
      - {product: seat, price: "10.00"}
      - {product: ai, price: "1", credit_type: ai_credit}
      - {product: compute, tiers: [{up_to: "100", price: "0.50"}, {price: "0.40"}]}
packages:
  - id: team
    rate_card: std
    subscriptions: [{id: seats, product: seat, seat_based: true}]
    recurring_credits: [{credit_type: ai_credit, amount: "100", per_seat_of: seats, allocation: pooled}]
  - id: solo
    rate_card: std
    subscriptions: [{id: seats, product: seat, seat_based: true}]
    recurring_credits: [{credit_type: ai_credit, amount: "50", per_seat_of: seats, allocation: individual}]
customers:
  - {id: acme, name: Acme, package: team, seats: [alice, bob]}
  - {id: indie, name: Indie, package: solo, seats: [ann, ben]}
  - id: corp
    name: Corp
    contract:
      rate_card: std
      commits: [{id: shared, type: prepaid, amount: "300.00", child_access: all,
                 invoice: [{amount: "300.00"}]}]
  - {id: north, parent: corp, contract: {rate_card: std}}
  - {id: south, parent: corp, payer: parent, contract: {rate_card: std}}
"""
DAY = 86_400_000_000
USERS = {"acme": ["alice", "bob"], "indie": ["ann", "ben"]}


def usage(producer: int, n: int, at: int) -> ins.RecordUsage:
    """Producer p's n-th event: AI requests for the seat customers, compute for the tree."""
    customer = ["acme", "indie", "north", "south"][producer % 4]
    if customer in USERS:
        user = USERS[customer][n % 2]
        return ins.RecordUsage(id=f"p{producer}-{n}", at_us=at, customer=customer, event_type="ai_request",
                               properties={"credits": 3 + (producer + n) % 5, "user": user})
    return ins.RecordUsage(id=f"p{producer}-{n}", at_us=at, customer=customer, event_type="job",
                           properties={"hours": 1 + n % 4})


async def run(path: Path) -> LiveRunner:
    scenario = load_text(SETUP, "setup.yaml")
    conv = build_catalog(scenario)
    clock = ManualClock(scenario.start)
    book = Book(path, durable=True)
    runner = LiveRunner(book, clock, grace_seconds=0, max_batch=64, tick_s=0.005)

    async def producer(p: int, day: int) -> None:
        for n in range(12):
            ack = await runner.submit(usage(p, day * 100 + n, 0))
            assert ack.accepted, ack.error
            await trio.sleep(0)

    async def wave(day: int) -> None:
        clock.set(scenario.start + day * DAY)
        async with trio.open_nursery() as producers:
            for p in range(16):
                producers.start_soon(producer, p, day)

    made: list[str] = []

    def command(day: int, **entry: object) -> ins.Input:
        made.append(f"cmd-{len(made)}")
        at = scenario.start + day * DAY
        return entry_input(conv, fmt.Entry(at=at, id=made[-1], **entry), None, "$")  # type: ignore[arg-type]

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        setup = await feed(runner, clock, live_inputs(scenario))
        assert [a.error for a in setup if a.error] == []
        await wave(3)
        clock.set(scenario.start + 10 * DAY)
        for item in [
            command(10, add_seats=fmt.SeatChange(customer="acme", subscription="seats", seats=["carol"])),
            command(10, remove_seats=fmt.SeatChange(customer="indie", subscription="seats", seats=["ben"])),
        ]:
            ack = await runner.submit(item)
            assert ack.accepted, ack.error
        await wave(12)
        clock.set(scenario.start + 20 * DAY)
        rate = fmt.UpdateRate(rate_card="std", product="compute", tiers=[fmt.Tier(price=Amount("0.30"))])
        for item in [command(20, update_rate=rate),
                     command(20, change_package=fmt.ChangePackage(customer="indie", to="team"))]:
            ack = await runner.submit(item)
            assert ack.accepted, ack.error
        await wave(25)
        await wave(40)  # February
        clock.set(scenario.start + 62 * DAY)  # past the end of February
        await runner.close()
    book.close()
    return runner


def test_a_live_ledger_from_commands_alone_exports_to_a_scenario_that_simulates_identically(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite"
    runner = trio.run(run, db)
    assert verify_file(db) == []
    live_invoices = encode_json(Results(runner.runtime).invoices())
    live_export = export_lines(sqlite3.connect(db))
    assert len(live_export.splitlines()) > 300
    # Exported and simulated through the CLI, as a user would.
    scenario = tmp_path / "journal.yaml"
    cli = [sys.executable, "-m", "meterbook"]
    done = subprocess.run([*cli, "journal", "export", str(db), str(scenario)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "sim"
    done = subprocess.run([*cli, "simulate", str(scenario), "--out", str(out)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert (out / "ledger.jsonl").read_bytes() == live_export
    assert (out / "invoices.json").read_bytes() == live_invoices
    # And a restart rebuilds the same actors: same invoices, nothing new posted.
    book = Book(db, durable=True)
    again = LiveRunner(book, ManualClock(parse_at("2026-03-05")), grace_seconds=0)
    assert encode_json(Results(again.runtime).invoices()) == live_invoices
    book.close()
