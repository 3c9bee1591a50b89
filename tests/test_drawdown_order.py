"""Rule 4's drawdown order, one tie-break at a time."""

from __future__ import annotations

from typing import Any

from meterbook.actors.drawdown import in_order, own_rank, plan, rank
from meterbook.actors.holdings import Grant
from meterbook.actors.messages import GrantTerms


def g(gid: str, amount: int = 100, **kw: Any) -> Grant:
    args: dict[str, Any] = dict(id=gid, owner="c", unit="USD", units=amount, priority=1, paid=False, products=None,
                                start=0, end=1000, account=1)
    args.update(kw)
    return Grant(GrantTerms(**args))


def order(*grants: Grant, product: str = "api", at: int = 10) -> list[str]:
    """What a holder draws from: its grants kept in rank order, the usable ones."""
    return [x.id for x in in_order(sorted(grants, key=own_rank), product, at)]


def test_priority_first() -> None:
    assert order(g("b", priority=2), g("a", priority=5), g("c", priority=1)) == ["c", "b", "a"]


def test_free_before_paid() -> None:
    assert order(g("commit", paid=True), g("credit")) == ["credit", "commit"]


def test_fewer_products_first() -> None:
    assert order(g("all"), g("two", products=frozenset({"api", "x"})), g("one", products=frozenset({"api"}))) == \
        ["one", "two", "all"]


def test_earlier_end_then_earlier_start_then_id() -> None:
    assert order(g("late", end=900), g("soon", end=500)) == ["soon", "late"]
    assert order(g("b", start=5), g("a", start=7)) == ["b", "a"]
    assert order(g("b"), g("a")) == ["a", "b"]


def test_rollover_before_fresh_at_same_priority() -> None:
    assert order(g("fresh"), g("carried", rollover=True), g("urgent", priority=0)) == ["urgent", "carried", "fresh"]


def test_own_before_ancestor_nearer_before_farther() -> None:
    own, parent, grandparent = g("z"), g("a"), g("m")
    offered = [(2, grandparent), (0, own), (1, parent)]
    got = sorted(offered, key=lambda dg: rank(dg[1].key, dg[0], dg[1].id))
    assert [x.id for _, x in got] == ["z", "a", "m"]
    # Distance only breaks ties: a cheaper ancestor grant still comes first.
    cheap_parent = g("p", priority=0)
    assert sorted([(0, own), (1, cheap_parent)], key=lambda dg: rank(dg[1].key, dg[0], dg[1].id))[0][1] is cheap_parent


def test_inactive_exhausted_and_inapplicable_are_skipped() -> None:
    empty = g("empty")
    empty.remaining = 0
    assert order(g("future", start=20), g("ended", end=10), empty, g("other", products=frozenset({"x"})),
                 g("ok")) == ["ok"]


def test_plan_takes_in_order_and_reports_rest() -> None:
    a, b = g("a", amount=30), g("b", amount=50)
    takes, left = plan([a, b], 100)
    assert [(x.id, n) for x, n in takes] == [("a", 30), ("b", 50)]
    assert left == 20
