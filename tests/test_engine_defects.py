"""Regression tests for defects found by the mutation run and by review, engine side: each
pins the rule that now holds (exact figures and messages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from meterbook.engine import inputs as ins
from meterbook.engine.clock import ManualClock
from meterbook.engine.from_scenario import declared_inputs
from meterbook.engine.live import LiveRunner
from meterbook.engine.results import Results
from meterbook.engine.simulate import runtime_for
from meterbook.errors import ScenarioError
from meterbook.ledger import Book, export_lines
from meterbook.scenarios import load_text, parse_at

HEAD = """
meterbook: 1
start: 2026-01-01
end: 2026-03-01
credit_types: [{id: tok, decimals: 6, fiat_per_credit: "0.000002"}]
products:
  - {id: gen, type: usage, metric: {event_type: gen, aggregation: sum, property: tokens}}
  - {id: api, type: usage, metric: {event_type: call, aggregation: sum, property: n}}
rate_cards: [{id: r, rates: [{product: gen, price: "1", credit_type: tok}, {product: api, price: "0.10"}]}]
"""


def runtime(text: str, tmp_path: Path) -> Any:
    scenario = load_text(HEAD + text, "t.yaml")
    rt = runtime_for(scenario, Book(tmp_path / "l.sqlite"))
    for item in declared_inputs(scenario):
        assert rt.apply(item).status == "accepted"
    return rt


def test_ten_million_six_decimal_credits_fit_the_ledger(run_text: Any) -> None:
    r = run_text(HEAD + """
customers: [{id: c, contract: {rate_card: r, credits: [{id: big, credit_type: tok, amount: "10000000.000000"}]}}]
timeline:
  - {at: 2026-01-05, usage: {id: e1, customer: c, event_type: gen, properties: {tokens: "2500000.123456"}}}
""")
    assert r.amount("tok", r.balance("c", "tok", parse_at("2026-01-05"))) == "7499999.876544"
    assert r.catalog.units["tok"].scale == 9  # six display decimals, capped at nine stored


def test_a_grant_beyond_the_ledger_range_is_refused_naming_it(run_text: Any) -> None:
    with pytest.raises(ScenarioError) as info:
        run_text(HEAD + """
customers: [{id: c, contract: {rate_card: r, credits: [{id: huge, amount: "2000000000.00"}]}}]
""", "t.yaml")
    assert str(info.value) == ("t.yaml: $.customers[0]: activate at 2026-01-01T00:00:00Z: the amount of grant 'huge' "
                               "is beyond the ledger's range (at most 1,000,000,000 in major units)")


@pytest.mark.parametrize(("value", "reason"), [
    (float("nan"), "expected a finite number, got nan"),
    (float("inf"), "expected a finite number, got inf"),
    ("ten", "expected a number, got 'ten'"),
    (True, "expected a number, got True"),
    ([1], "expected a number, got [1]"),
])
def test_usage_quantity_that_is_no_finite_number_is_refused(tmp_path: Path, value: Any, reason: str) -> None:
    rt = runtime("customers: [{id: c, contract: {rate_card: r}}]\n", tmp_path)
    before = rt.book.last_posted
    answer = rt.apply(ins.RecordUsage(id="u1", at_us=parse_at("2026-01-02"), customer="c", event_type="call",
                                      properties={"n": value}))
    assert (answer.status, answer.field, answer.reason) == ("refused", "$", f"usage u1: n: {reason}")
    assert rt.book.last_posted == before
    assert not rt.book.journaled("usage:u1")  # a refusal does not consume the id


def test_commit_invoice_items_at_one_instant_are_two_lines(run_text: Any) -> None:
    r = run_text(HEAD + """
customers:
  - id: c
    contract:
      rate_card: r
      commits: [{id: k, type: prepaid, amount: "100.00", invoice: [{at: 2026-01-01, amount: "60.00"},
                                                                   {at: 2026-01-01, amount: "40.00"}]}]
""")
    assert r.money(r.invoice_total("c", parse_at("2026-01-01"))) == "100.00"
    kinds = [line.kind for line in r.runtime.customer("c").invoices[0].lines]
    assert kinds == ["commit_invoice", "commit_invoice"]


def test_buy_credits_ending_before_the_purchase_is_refused(tmp_path: Path) -> None:
    rt = runtime("customers: [{id: c, contract: {rate_card: r}}]\n", tmp_path)
    at = parse_at("2026-01-10")
    answer = rt.apply(ins.BuyCredits(id="b", at_us=at, customer="c", grant="p", unit="USD", amount=_d("5"),
                                     price=_d("5"), priority=1, end_us=parse_at("2026-01-09")))
    assert (answer.status, answer.reason) == ("refused", "buy_credits 'p': its end must be after the purchase")


def test_same_seat_twice_in_one_command_is_refused(tmp_path: Path) -> None:
    text = HEAD.replace("products:\n", "products:\n  - {id: seat, type: subscription}\n").replace(
        'rates: [', 'rates: [{product: seat, price: "10.00"}, ') + """
customers: [{id: c, seats: [a], contract: {rate_card: r, subscriptions: [{id: s, product: seat, seat_based: true}]}}]
"""
    scenario = load_text(text, "t.yaml")
    rt = runtime_for(scenario, Book(tmp_path / "l.sqlite"))
    for item in declared_inputs(scenario):
        assert rt.apply(item).status == "accepted"
    rt.advance_to(parse_at("2026-01-03"))
    before = rt.book.last_posted
    for command in (ins.AddSeats(id="s1", at_us=parse_at("2026-01-03"), customer="c", subscription="s",
                                 seats=("b", "b")),
                    ins.RemoveSeats(id="s2", at_us=parse_at("2026-01-03"), customer="c", subscription="s",
                                    seats=("a", "a"))):
        answer = rt.apply(command)
        assert (answer.status, answer.reason) == ("refused", "a seat is listed twice")
    assert rt.book.last_posted == before
    assert rt.customer("c").assigned == {"s": ["a"]}


def test_invoice_finalized_names_its_own_period(run_text: Any, tmp_path: Path) -> None:
    r = run_text(HEAD + """customers: [{id: c, contract: {rate_card: r}}]
timeline:
  - {at: 2026-01-05, usage: {id: j, customer: c, event_type: call, properties: {n: 10}}}
  - {at: 2026-02-05, usage: {id: f, customer: c, event_type: call, properties: {n: 10}}}
""")
    r.book.flush()
    rows = [json.loads(line) for line in export_lines(r.book.conn).splitlines()]
    causes = [row["cause"] for row in rows if row["kind"] == "invoice_finalized"]
    # Both periods close (the run ends 2026-03-01); each names the period it closes.
    assert causes == ["period:c:2026-01-01T00:00:00Z:close", "period:c:2026-02-01T00:00:00Z:close"]
    invoices = Results(r.runtime).invoices()
    assert [(i.period, i.id) for i in invoices] == [("2026-01-01T00:00:00Z", "c-2026-01-01T00:00:00Z"),
                                                    ("2026-02-01T00:00:00Z", "c-2026-02-01T00:00:00Z")]


def test_input_at_or_after_the_horizon_is_refused_not_dropped(tmp_path: Path) -> None:
    rt = runtime("customers: [{id: c, contract: {rate_card: r}}]\n", tmp_path)
    answer = rt.apply(ins.RecordUsage(id="late", at_us=parse_at("2026-03-01"), customer="c", event_type="call",
                                      properties={"n": 1}))
    assert (answer.status, answer.field) == ("refused", "$.at")
    assert answer.reason == "2026-03-01T00:00:00Z is at or after the end of the run (2026-03-01T00:00:00Z)"


async def test_live_runner_survives_a_failing_timer_and_dedupes_across_batches(tmp_path: Path) -> None:
    from tests.live_support import feed, live_inputs

    # `bad` has a subscription its rate card cannot price: its period open fails on the clock.
    text = HEAD.replace("products:\n", "products:\n  - {id: plan, type: subscription}\n") + """
customers:
  - {id: good, contract: {rate_card: r}}
  - {id: bad, start: 2026-01-15, contract: {rate_card: r, subscriptions: [{id: s, product: plan}]}}
"""
    scenario = load_text(text, "t.yaml")
    book = Book(tmp_path / "live.sqlite", durable=True)
    clock = ManualClock(scenario.start)
    runner = LiveRunner(book, clock, grace_seconds=0, tick_s=0.01)

    def usage(uid: str, customer: str = "good") -> ins.RecordUsage:
        return ins.RecordUsage(id=uid, at_us=0, customer=customer, event_type="call", properties={"n": 10})

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        setup = await feed(runner, clock, live_inputs(scenario))
        clock.set(parse_at("2026-01-10"))
        first = await runner.submit(usage("u1"))
        clock.set(parse_at("2026-01-20"))  # bad's start fires on the clock, and fails
        second = await runner.submit(usage("u2"))
        again = await runner.submit(usage("u1"))  # same id, a later batch
        unknown = await runner.submit(usage("u3", customer="nobody"))
        await runner.close()
    assert [a.error for a in setup if a.error] == []
    assert (first.accepted, second.accepted, again.duplicate) == (True, True, True)
    assert unknown.error == "input u3: $.customer: unknown customer 'nobody'"
    faults = runner.runtime.faults
    assert [(f.target, f.message) for f in faults] == [("bad", "start")]
    assert faults[0].reason == "no flat price in USD for subscription product 'plan'"
    assert runner.customer("good").invoices[0].lines[0].units == 2_00000000
    book.close()


def _d(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def test_money_and_credit_figures_are_kept_apart_on_invoice_lines(run_text: Any) -> None:
    r = run_text(HEAD + """
customers: [{id: c, contract: {rate_card: r, credits: [{id: t, credit_type: tok, amount: "100.000000"}]}}]
timeline:
  - {at: 2026-01-05, usage: {id: e1, customer: c, event_type: gen, properties: {tokens: "1100000"}}}
""")
    line = next(ln for ln in Results(r.runtime).invoices()[0].lines if ln.kind == "usage")
    # 1,100,000 tokens at 1 credit each; 100 from the grant; 1,099,900 billed at $0.000002 = $2.20.
    assert (line.amount, line.currency) == ("2.20", "USD")
    assert line.consumption is not None
    assert (line.consumption.unit, line.consumption.gross, line.consumption.credits_applied) == (
        "tok", "1100000.000000", "100.000000")


def test_every_output_field_is_documented(tmp_path: Path) -> None:
    from meterbook.actors.invoice import ConsumptionOut, InvoiceOut, LineOut
    from meterbook.engine.simulate import simulate
    from tests.conftest import EXAMPLES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "outputs.md").read_text()
    out = tmp_path / "out"
    simulate(EXAMPLES / "packages.yaml", out)
    for name in sorted(p.name for p in out.iterdir()):
        assert f"## {name}" in doc or name in doc, name
    summary = json.loads((out / "summary.json").read_text())
    fields = set(summary) | set(summary["customers"][0]) | set(summary["inputs"])
    fields |= set(InvoiceOut.__struct_fields__) | set(LineOut.__struct_fields__) | set(ConsumptionOut.__struct_fields__)
    missing = sorted(f for f in fields if f"`{f}" not in doc and f".{f}`" not in doc)
    assert missing == []
