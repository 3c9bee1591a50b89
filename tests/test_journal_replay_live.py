"""Random inputs applied live (several account trees that join and split, customers created
on the way, a manual clock) replay from the journal, in simulation and in a restart, to the
same ledger byte for byte: the seam is one logic with two clocks."""

from __future__ import annotations

import sqlite3
import tempfile
from decimal import Decimal
from pathlib import Path

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterbook.actors.catalog import ContractTerms
from meterbook.engine import inputs as ins
from meterbook.engine.clock import ManualClock
from meterbook.engine.live import LiveRunner
from meterbook.ledger import Book, export_lines, verify_file
from meterbook.scenarios import load_text, parse_at
from tests.live_support import feed, live_inputs, simulate_journal

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
  - {id: solo, contract: {rate_card: r, credits: [{id: free, amount: "5.00"}],
                          commits: [{id: shared, type: prepaid, amount: "50.00", child_access: all,
                                     invoice: [{amount: "50.00"}]}]}}
"""
START = parse_at("2026-01-01")
KID_TERMS = ContractTerms(rate_card="r", overrides=(), subscriptions=(), grants=(), recurring=(), on_exhausted="bill")
HOUR = 3_600_000_000

step = st.one_of(
    st.tuples(st.just("ask"), st.integers(0, 400)),
    st.tuples(st.just("call"), st.integers(1, 3)),
    st.tuples(st.just("add"), st.sampled_from(["c", "d", "e"])),
    st.tuples(st.just("remove"), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("buy"), st.integers(1, 300)),
    st.tuples(st.just("spend"), st.sampled_from(["solo", "kid"])),
    st.tuples(st.just("move"), st.sampled_from([("org", "solo"), ("org", None), ("solo", "org"), ("solo", None),
                                                ("kid", "org"), ("kid", "solo")])),
    st.tuples(st.just("create"), st.sampled_from(["solo", "org"])),
    st.tuples(st.just("late"), st.integers(0, 70)),  # minutes between its timestamp and its arrival
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
        elif kind == "spend":
            out.append(ins.RecordUsage(id=f"u{n}", at_us=at, customer=str(arg), event_type="call", properties={}))
        elif kind == "move":
            child, parent = arg  # type: ignore[misc]
            out.append(ins.SetParent(id=f"c{n}", at_us=at, customer=child, parent=parent, payer="parent"))
        elif kind == "late":  # past the grace (60 min, in the grace test) it is refused
            out.append(ins.RecordUsage(id=f"u{n}", at_us=at, customer="org", event_type="ask", properties={"n": 7},
                                       timestamp_us=at - int(str(arg)) * 60_000_000))
        elif kind == "create":
            out.append(ins.CreateCustomer(id="kid", at_us=at, customer="kid", name="kid", start_us=at,
                                          parent=str(arg), terms=KID_TERMS))
        else:
            out.append(ins.BuyCredits(id=f"c{n}", at_us=at, customer="org", grant=f"p{n}", unit="cr",
                                      amount=Decimal(str(arg)), price=Decimal("1.00"), priority=2, end_us=at + 40 * 24 * HOUR))
    return out


async def live(items: list[ins.Input], path: Path, stop: int, grace: int = 0) -> list[str]:
    """Apply `items` live, stopping and restarting the runner (a replay) after `stop` of them."""
    scenario = load_text(SCENARIO, "t.yaml")
    clock = ManualClock(scenario.start)
    statuses = []
    setup = live_inputs(scenario)
    for part in (setup + items[:stop], items[stop:]):
        book = Book(path, durable=True)
        runner = LiveRunner(book, clock, grace_seconds=grace, tick_s=0.01)
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.serve)
            acks = await feed(runner, clock, part)
            await runner.close()
        book.close()
        statuses += [ack.answer.status if ack.answer else "none" for ack in acks]
    return statuses[len(setup):]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=25), gaps=st.lists(st.integers(0, 200), min_size=25, max_size=25),
       stop=st.integers(0, 25))
def test_live_inputs_replay_from_the_journal_to_the_same_ledger(steps: list[tuple[str, object]],
                                                                gaps: list[int], stop: int) -> None:
    check_replay(steps, gaps, stop, grace=0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=25), gaps=st.lists(st.integers(0, 200), min_size=25, max_size=25),
       stop=st.integers(0, 25))
def test_with_a_grace_late_usage_replays_to_the_same_ledger(steps: list[tuple[str, object]],
                                                            gaps: list[int], stop: int) -> None:
    """The same with a one-hour grace: late usage lands on a period still in its grace, drafts
    settle an hour after the period ends, and the journal simulates to the same ledger."""
    check_replay(steps, gaps, stop, grace=3600)


def check_replay(steps: list[tuple[str, object]], gaps: list[int], stop: int, grace: int) -> None:
    items = inputs_for(steps, gaps)
    with tempfile.TemporaryDirectory() as tmp:
        live_path, sim_path = Path(tmp) / "live.sqlite", Path(tmp) / "sim.sqlite"
        statuses = trio.run(live, items, live_path, min(stop, len(items)), grace)
        # refused: e.g. removing a seat not assigned, a move that makes a cycle
        assert set(statuses) <= {"accepted", "refused", "duplicate"}  # a second `kid`: its id again
        assert verify_file(live_path) == []
        conn = sqlite3.connect(live_path)
        assert simulate_journal(live_path, sim_path) == export_lines(conn)
        journaled = conn.execute("SELECT COUNT(*) FROM inputs").fetchone()[0]
        conn.close()
        # the catalog (a credit type, 3 products, a rate card, a package), 2 customers, and every accepted input
        assert journaled == 8 + statuses.count("accepted")
