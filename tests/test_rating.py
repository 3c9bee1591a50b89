"""Incremental rating: graduated tiers, aggregations and filters come out exact however the
events are split."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbook.actors.catalog import Metric, Unit, make_price
from meterbook.actors.rating import Aggregate, charge_units, event_quantity

USD = Unit(id="USD", decimals=2, is_currency=True)
TIERS = ((Decimal("10000"), Decimal("0.01")), (None, Decimal("0.005")))


def charges(price, kind: str, quantities: list) -> list[int]:
    agg = Aggregate(kind)
    out = []
    for q in quantities:
        after = agg.after(q)
        out.append(charge_units(price, agg.value, after, USD.scale))
        agg.commit(q, after)
    return out


@pytest.mark.parametrize(("split", "expected"), [
    ([15000], [125_00000000]),
    ([9000, 6000], [90_00000000, 35_00000000]),
    ([10000, 1, 4999], [100_00000000, 500000, 24_99500000]),
])
def test_graduated_tiers_split_exactly(split: list[int], expected: list[int]) -> None:
    price = make_price(USD, None, TIERS)
    assert charges(price, "sum", split) == expected
    assert sum(expected) == 125_00000000


def test_max_charges_only_increases() -> None:
    price = make_price(USD, Decimal("0.50"), None)
    assert charges(price, "max", [40, 70, 55]) == [20_00000000, 15_00000000, 0]


def test_unique_counts_distinct_values() -> None:
    price = make_price(USD, Decimal("2.00"), None)
    assert charges(price, "unique", ["a", "b", "a", "c"]) == [2_00000000, 2_00000000, 0, 2_00000000]


def test_count_ignores_properties() -> None:
    m = Metric("call", "count", None)
    assert event_quantity(m, {}) == 1


def test_sub_scale_prices_round_cumulatively_not_per_event() -> None:
    # $0.000000001 per token is finer than the ledger scale (1e-8 USD): per-event rounding
    # would give 0 ten times; cumulative rounding gives the exact total to the scale.
    price = make_price(USD, Decimal("0.000000001"), None)
    got = charges(price, "sum", [Decimal(10)] * 10)
    assert sum(got) == 10
    assert got == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def test_float_property_reads_shortest_repr() -> None:
    m = Metric("job", "sum", "hours")
    assert event_quantity(m, {"hours": 0.1}) == Decimal("0.1")
    assert event_quantity(m, {"hours": "2.50"}) == Decimal("2.50")
    assert event_quantity(m, {}) is None


def test_filters() -> None:
    m = Metric("job", "sum", "hours", (("region", frozenset({"us", "eu"})),))
    assert m.matches({"region": "us"})
    assert not m.matches({"region": "ap"})
    assert not m.matches({})


def test_negative_usage_is_refused(run_text) -> None:
    from meterbook.scenarios import ScenarioError

    text = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: p, type: usage, metric: {event_type: e, aggregation: sum, property: n}}]
rate_cards: [{id: r, rates: [{product: p, price: "1.00"}]}]
customers: [{id: c, contract: {rate_card: r}}]
timeline:
  - {at: 2026-01-02, usage: {id: a, customer: c, event_type: e, properties: {n: 100}}}
  - {at: 2026-01-03, usage: {id: b, customer: c, event_type: e, properties: {n: -50}}}
"""
    with pytest.raises(ScenarioError) as info:
        run_text(text, "neg.yaml")
    # Refused at load since the hardening pass (the engine refuses it too, at run time).
    assert str(info.value) == ("neg.yaml: $.timeline[1].usage.properties.n: must not be negative, got -50; "
                               "send a correction as a credit")


def test_refused_event_leaves_grants_and_ledger_untouched(tmp_path) -> None:
    from meterbook.engine.from_scenario import declared_inputs, entry_input
    from meterbook.engine.results import Results
    from meterbook.engine.simulate import runtime_for
    from meterbook.ledger import Book
    from meterbook.scenarios import format as fmt
    from meterbook.scenarios import load_text, parse_at

    text = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products:
  - {id: a, type: usage, metric: {event_type: e, aggregation: sum, property: x}}
  - {id: b, type: usage, metric: {event_type: e, aggregation: sum, property: y}}
rate_cards: [{id: r, rates: [{product: a, price: "1.00"}, {product: b, price: "1.00"}]}]
customers: [{id: c, contract: {rate_card: r, credits: [{id: cr, amount: "100.00"}]}}]
"""
    scenario = load_text(text, "t.yaml")
    book = Book(tmp_path / "l.sqlite")
    runtime = runtime_for(scenario, book)
    for item in declared_inputs(scenario):
        assert runtime.apply(item).status == "accepted"
    at = parse_at("2026-01-05")
    runtime.advance_to(at)
    before = book.last_posted
    bad = fmt.Entry(at=at, usage=fmt.UsageEvent(id="u", customer="c", event_type="e", properties={"x": 30, "y": -1}))
    answer = runtime.apply(entry_input(runtime.catalog, bad, None, "$.bad"))
    assert (answer.status, answer.field) == ("refused", "$")
    assert answer.reason == "usage u: y is negative (-1); send a correction as a credit"
    assert Results(runtime).grant("c", "cr").remaining == 100_00000000
    aggs = runtime.customer("c").aggs
    assert aggs.get("a") is None or aggs["a"].value == 0
    assert book.last_posted == before
    # The same id, corrected, is accepted: a refusal did not consume it.
    good = fmt.Entry(at=at, usage=fmt.UsageEvent(id="u", customer="c", event_type="e", properties={"x": 30, "y": 1}))
    assert runtime.apply(entry_input(runtime.catalog, good, None, "$.good")).status == "accepted"
    assert Results(runtime).grant("c", "cr").remaining == 69_00000000
    book.close()
