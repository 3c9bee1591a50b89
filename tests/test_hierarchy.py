"""Account hierarchies: shared grants drawn down the tree, who pays, roll-ups, moves, and
concurrent live ingest that never overdraws a parent's commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from meterbook.engine.clock import ManualClock
from meterbook.engine.from_scenario import build_catalog, entry_input
from meterbook.engine.live import LiveRunner
from meterbook.engine.results import Results
from meterbook.ledger import Book, export_lines, verify_file, violations
from meterbook.scenarios import format as fmt
from meterbook.scenarios import load_text, parse_at
from tests.live_support import feed, live_inputs, simulate_journal

HEAD = """
meterbook: 1
start: 2026-01-01
end: 2026-03-01
products: [{id: compute, type: usage, metric: {event_type: job, aggregation: sum, property: hours}}]
rate_cards: [{id: ent, rates: [{product: compute, price: "1.00"}]}]
customers:
  - id: root
    contract:
      rate_card: ent
      commits:
        - {id: pool, type: prepaid, amount: "1000.00", priority: 10, start: 2026-01-01, end: {end},
           invoice: [{at: 2026-01-01, amount: "1000.00"}], child_access: {access}}
  - {id: mid, parent: root, payer: {mid_payer}, contract: {rate_card: ent{mid_extra}}}
  - {id: leaf, parent: mid, payer: {leaf_payer}, contract: {rate_card: ent}}
  - {id: other, contract: {rate_card: ent, credits: [{id: o, amount: "100.00", child_access: all}]}}
timeline:
"""


def tree(*, access: str = "all", end: str = "2027-01-01", mid_payer: str = "self", leaf_payer: str = "self",
         mid_extra: str = "") -> str:
    return (HEAD.replace("{access}", access).replace("{end}", end).replace("{mid_payer}", mid_payer)
            .replace("{leaf_payer}", leaf_payer).replace("{mid_extra}", mid_extra))


def job(i: int, customer: str, at: str, hours: int) -> str:
    return f"  - {{at: {at}, usage: {{id: j{i}, customer: {customer}, event_type: job, properties: {{hours: {hours}}}}}}}\n"


def total(r, customer: str, period: str = "2026-01-01") -> str:
    return r.money(r.invoice_total(customer, parse_at(period)))


def usd(r, customer: str, at: str, grant: str | None = None) -> str:
    return r.money(r.balance(customer, "USD", parse_at(at), grant=grant))


def test_grandchild_draws_grandparent_commit(run_text) -> None:
    r = run_text(tree() + job(1, "leaf", "2026-01-10", 300))
    assert usd(r, "root", "2026-01-10") == "700.00"
    assert (total(r, "leaf"), total(r, "mid"), total(r, "root")) == ("0.00", "0.00", "1000.00")
    assert r.grant("root", "pool").draws == {"leaf": 300_00000000}
    assert (r.rollup_usage("root", parse_at("2026-01-01")), r.rollup_usage("mid", parse_at("2026-01-01"))) == \
        (300_00000000, 300_00000000)


def test_child_access_listing_grandchild_directly(run_text) -> None:
    r = run_text(tree(access="[leaf]") + job(1, "mid", "2026-01-10", 40) + job(2, "leaf", "2026-01-11", 60))
    assert total(r, "mid") == "40.00"          # not admitted: its own overage
    assert total(r, "leaf") == "0.00"
    assert usd(r, "root", "2026-01-31") == "940.00"


def test_own_cheaper_priority_credit_first_then_parent(run_text) -> None:
    extra = ', credits: [{id: mine, amount: "50.00", priority: 1}]'
    r = run_text(tree(mid_extra=extra) + job(1, "mid", "2026-01-10", 80))
    assert usd(r, "mid", "2026-01-10", grant="mine") == "0.00"
    assert usd(r, "root", "2026-01-10") == "970.00"


def test_own_grant_before_ancestor_at_equal_rank(run_text) -> None:
    text = tree().replace("commits:\n        - {id: pool, type: prepaid,", "credits:\n        - {id: pool,") \
                 .replace(",\n           invoice: [{at: 2026-01-01, amount: \"1000.00\"}]", "")
    extra = ', credits: [{id: mine, amount: "50.00", priority: 10, start: 2026-01-01, end: 2027-01-01}]'
    r = run_text(text.replace("{rate_card: ent}}\n  - {id: leaf", "{rate_card: ent" + extra + "}}\n  - {id: leaf", 1)
                 + job(1, "mid", "2026-01-10", 70))
    assert usd(r, "mid", "2026-01-10", grant="mine") == "0.00"
    assert usd(r, "root", "2026-01-10") == "980.00"


def test_parent_commit_expiring_mid_period(run_text) -> None:
    r = run_text(tree(end="2026-01-15") + job(1, "leaf", "2026-01-10", 100) + job(2, "leaf", "2026-01-15", 30))
    assert total(r, "leaf") == "30.00"   # the commit ended at the instant of j2
    assert r.breakage("root", "USD", parse_at("2026-01-01")) == 900_00000000
    assert usd(r, "root", "2026-01-14T23:59:59Z") == "900.00"
    assert usd(r, "root", "2026-01-15") == "0.00"


def test_payer_parent_at_two_levels(run_text) -> None:
    r = run_text(tree(access="none", mid_payer="parent", leaf_payer="parent")
                 + job(1, "leaf", "2026-01-10", 25) + job(2, "mid", "2026-01-11", 5))
    assert (total(r, "leaf"), total(r, "mid")) == ("0.00", "0.00")
    assert total(r, "root") == "1030.00"
    lines = {(ln.customer, ln.units) for ln in r.runtime.customer("root").invoices[0].lines if ln.kind == "usage"}
    assert lines == {("leaf", 25_00000000), ("mid", 5_00000000)}


def test_set_parent_moves_future_draws_only(run_text) -> None:
    r = run_text(tree() + job(1, "leaf", "2026-01-10", 100)
                 + "  - {at: 2026-01-15, set_parent: {customer: leaf, parent: other}}\n"
                 + job(2, "leaf", "2026-01-20", 150))
    assert usd(r, "root", "2026-01-31") == "900.00"
    assert usd(r, "other", "2026-01-31") == "0.00"
    assert total(r, "leaf") == "50.00"
    jan = parse_at("2026-01-01")
    assert (r.rollup_usage("mid", jan), r.rollup_usage("other", jan)) == (100_00000000, 150_00000000)


def test_set_parent_cycle_refused(run_text) -> None:
    from meterbook.scenarios import ScenarioError

    with pytest.raises(ScenarioError) as info:
        run_text(tree() + "  - {at: 2026-01-15, set_parent: {customer: root, parent: leaf}}\n", "t.yaml")
    assert str(info.value) == ("t.yaml: $.timeline[0]: set_parent at 2026-01-15T00:00:00Z: "
                               "moving root under leaf would make a cycle")


async def test_sixteen_children_ingest_concurrently_without_overdraw(tmp_path: Path) -> None:
    kids = "".join(f"  - {{id: k{i}, parent: root, contract: {{rate_card: ent}}}}\n" for i in range(16))
    text = tree().replace("timeline:\n", kids + "timeline: []\n")
    scenario = load_text(text, "live.yaml")
    book = Book(tmp_path / "live.sqlite", durable=True)
    at = parse_at("2026-01-10T12:00:00Z")
    clock = ManualClock(scenario.start)
    runner = LiveRunner(book, clock, grace_seconds=0, max_batch=64, tick_s=0.01)
    catalog = build_catalog(scenario)

    async def child(i: int) -> None:
        for n in range(100):
            entry = fmt.Entry(at=at, usage=fmt.UsageEvent(id=f"k{i}-{n}", customer=f"k{i}", event_type="job",
                                                          properties={"hours": 1}))
            ack = await runner.submit(entry_input(catalog, entry, None, "$"))
            assert ack.accepted and ack.error is None
            await trio.sleep(0)

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        setup = await feed(runner, clock, live_inputs(scenario))
        assert [a.error for a in setup if a.error] == []
        clock.set(at)
        async with trio.open_nursery() as producers:
            for i in range(16):
                producers.start_soon(child, i)
        clock.set(scenario.end + 1)
        await runner.close()
    pool = Results(runner.runtime).grant("root", "pool")
    assert pool.remaining == 0
    assert sum(pool.draws.values()) == 1000_00000000
    kids_total = sum(runner.customer(f"k{i}").invoices[0].rounded_total(8, 2) for i in range(16))
    assert kids_total == 600_00000000
    assert runner.rounds > 2
    book.flush()
    assert violations(book.conn) == []
    book.close()
    assert verify_file(tmp_path / "live.sqlite") == []
    assert export_lines(sqlite3.connect(tmp_path / "live.sqlite")) == simulate_journal(
        tmp_path / "live.sqlite", tmp_path / "sim.sqlite")


def test_rollup_report_draws_per_period(run_text) -> None:
    from meterbook.engine.reports import rollup_report

    r = run_text(tree() + job(1, "leaf", "2026-01-10", 300) + job(2, "mid", "2026-02-03", 20))
    root = next(row for row in rollup_report(r) if row["customer"] == "root")
    assert root["periods"] == [
        {"period": "2026-01-01T00:00:00Z", "usage": "300.00", "spend": "1000.00",
         "draws": [{"grant": "pool", "customer": "leaf", "amount": "300.00"}]},
        {"period": "2026-02-01T00:00:00Z", "usage": "20.00", "spend": "0.00",
         "draws": [{"grant": "pool", "customer": "mid", "amount": "20.00"}]},
    ]
