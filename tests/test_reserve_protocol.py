"""Reserve -> commit / release across holders: the event's seat, the customer's pool and its
ancestors' pools. A blocked event draws nothing anywhere; a refused one neither."""

from __future__ import annotations

from typing import Any

from meterbook.engine.results import Results
from meterbook.scenarios import parse_at

TREE = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products:
  - {id: a, type: usage, metric: {event_type: e, aggregation: sum, property: x}}
  - {id: b, type: usage, metric: {event_type: e, aggregation: sum, property: y}}
rate_cards: [{id: r, rates: [{product: a, price: "1.00"}, {product: b, price: "1.00"}]}]
customers:
  - id: root
    contract:
      rate_card: r
      credits: [{id: shared, amount: "50.00", priority: 2, child_access: all}]
  - id: kid
    parent: root
    contract:
      rate_card: r
      on_exhausted: block
      credits: [{id: own, amount: "30.00", priority: 1}]
timeline:
"""


def usage(i: int, at: str, x: int, y: int = 0) -> str:
    return f"  - {{at: {at}, usage: {{id: u{i}, customer: kid, event_type: e, properties: {{x: {x}, y: {y}}}}}}}\n"


def remaining(r: Any, customer: str, grant: str) -> int:
    return int(Results(r.runtime).grant(customer, grant).remaining)


def test_draw_spans_own_then_parent_grant(run_text: Any) -> None:
    r = run_text(TREE + usage(1, "2026-01-05", 70))
    assert (remaining(r, "kid", "own"), remaining(r, "root", "shared")) == (0, 10_00000000)
    assert r.denied("kid") == 0
    assert Results(r.runtime).grant("root", "shared").draws == {"kid": 40_00000000}


def test_blocked_event_across_holders_draws_nothing(run_text: Any) -> None:
    # 81 > 30 own + 50 shared: denied whole, both holders as they were.
    r = run_text(TREE + usage(1, "2026-01-05", 81) + usage(2, "2026-01-06", 80))
    assert r.denied("kid") == 1
    assert r.runtime.customer("kid").denied_ids == ["u1"]
    # The second event (exactly 80) then takes everything.
    assert (remaining(r, "kid", "own"), remaining(r, "root", "shared")) == (0, 0)
    assert r.money(r.invoice_total("kid", parse_at("2026-01-01"))) == "0.00"


def test_second_product_short_releases_the_first_products_hold(run_text: Any) -> None:
    # a=60 alone could be covered (30 + 30 of 50), but b=25 then finds only 20: the event is
    # denied whole and a's hold on both holders is released.
    r = run_text(TREE + usage(1, "2026-01-05", 60, 25))
    assert r.denied("kid") == 1
    assert (remaining(r, "kid", "own"), remaining(r, "root", "shared")) == (30_00000000, 50_00000000)
    assert Results(r.runtime).grant("root", "shared").draws == {}
    agg = r.runtime.customer("kid").aggs
    assert all(a.value == 0 for a in agg.values())  # nothing counted for a denied event
