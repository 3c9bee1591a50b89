"""Random inputs applied live (one account tree, a manual clock) replay from the journal, in
simulation, to the same ledger byte for byte: the seam is one logic with two clocks."""

from __future__ import annotations

import sqlite3
import tempfile
from decimal import Decimal
from pathlib import Path

import msgspec
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterbook.engine import inputs as ins
from meterbook.engine.clock import ManualClock
from meterbook.engine.live import LiveRunner
from meterbook.engine.simulate import runtime_for
from meterbook.ledger import Book, export_lines, verify_file
from meterbook.scenarios import load_text, parse_at

SCENARIO = """
meterbook: 1
start: 2026-01-01
end: 2026-04-01
credit_types: [{id: cr, decimals: 0, fiat_per_credit: "0.01"}]
products:
  - {id: seat, type: subscription}
  - {id: ai, type: usage, metric: {event_type: ask, aggregation: sum, property: n}}
  - {id: api, type: usage, metric: {event_type: call, aggregation: count}}
rate_cards: [{id: r, rates: [{product: seat, price: "10.00"}, {product: ai, price: "1", credit_type: cr},
                             {product: api, price: "0.01"}]}]
packages:
  - id: team
    rate_card: r
    subscriptions: [{id: seats, product: seat, seat_based: true}]
    recurring_credits: [{credit_type: cr, amount: "100", per_seat_of: seats, allocation: pooled, rollover: "0.5"}]
customers:
  - {id: org, package: team, seats: [a, b]}
"""
START = parse_at("2026-01-01")
HOUR = 3_600_000_000

step = st.one_of(
    st.tuples(st.just("ask"), st.integers(0, 400)),
    st.tuples(st.just("call"), st.integers(1, 3)),
    st.tuples(st.just("add"), st.sampled_from(["c", "d", "e"])),
    st.tuples(st.just("remove"), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("buy"), st.integers(1, 300)),
)


def inputs_for(steps: list[tuple[str, object]], gaps: list[int]) -> list[ins.Input]:
    out: list[ins.Input] = []
    at = START + HOUR
    for n, ((kind, arg), gap) in enumerate(zip(steps, gaps, strict=False)):
        at += gap * HOUR
        if kind == "ask":
            out.append(ins.RecordUsage(id=f"u{n}", at_us=at, customer="org", event_type="ask", properties={"n": arg}))
        elif kind == "call":
            out.append(ins.RecordUsage(id=f"u{n}", at_us=at, customer="org", event_type="call", properties={}))
        elif kind == "add":
            out.append(ins.AddSeats(id=f"c{n}", at_us=at, customer="org", subscription="seats", seats=(str(arg),)))
        elif kind == "remove":
            out.append(ins.RemoveSeats(id=f"c{n}", at_us=at, customer="org", subscription="seats", seats=(str(arg),)))
        else:
            out.append(ins.BuyCredits(id=f"c{n}", at_us=at, customer="org", grant=f"p{n}", unit="cr",
                                      amount=Decimal(str(arg)), price=Decimal("1.00"), priority=2, end_us=at + 40 * 24 * HOUR))
    return out


async def live(items: list[ins.Input], path: Path) -> list[str]:
    scenario = load_text(SCENARIO, "t.yaml")
    book = Book(path, durable=True)
    clock = ManualClock(scenario.start)
    runner = LiveRunner(scenario, book, clock, tick_s=0.01)
    statuses = []
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        for item in items:
            clock.set(max(clock.now_us(), item.at_us))
            ack = await runner.submit(item)
            statuses.append(ack.answer.status if ack.answer else "none")
        await runner.close()
    await runner.finish()
    book.close()
    return statuses


def replay(live_path: Path, path: Path) -> bytes:
    scenario = load_text(SCENARIO, "t.yaml")
    book = Book(path)
    runtime = runtime_for(scenario, book)
    conn = sqlite3.connect(live_path)
    bodies = [row[0] for row in conn.execute("SELECT body FROM inputs ORDER BY seq")]
    conn.close()
    for body in bodies:
        item = msgspec.json.decode(body, type=ins.AnyInput)
        runtime.advance_to(item.at_us, item.phase)
        assert runtime.apply(item).status == "accepted"
    runtime.finish()
    out = export_lines(book.conn)
    book.close()
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=25), gaps=st.lists(st.integers(0, 200), min_size=25, max_size=25))
def test_live_inputs_replay_from_the_journal_to_the_same_ledger(steps: list[tuple[str, object]],
                                                                gaps: list[int]) -> None:
    items = inputs_for(steps, gaps)
    with tempfile.TemporaryDirectory() as tmp:
        live_path, sim_path = Path(tmp) / "live.sqlite", Path(tmp) / "sim.sqlite"
        statuses = trio.run(live, items, live_path)
        assert set(statuses) <= {"accepted", "refused"}  # refused: e.g. removing a seat not assigned
        assert verify_file(live_path) == []
        conn = sqlite3.connect(live_path)
        assert replay(live_path, sim_path) == export_lines(conn)
        journaled = conn.execute("SELECT COUNT(*) FROM inputs").fetchone()[0]
        conn.close()
        # the catalog (a credit type, 3 products, a rate card, a package), the customer, every accepted input
        assert journaled == 6 + 1 + statuses.count("accepted")
