"""The drawdown order of SCENARIOS.md rule 4, as plain functions over grants."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from meterbook.actors.catalog import FOREVER


class Drawable(Protocol):
    """What the drawdown order needs to know of a grant."""

    @property
    def id(self) -> str: ...
    @property
    def remaining(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def products(self) -> frozenset[str] | None: ...
    @property
    def key(self) -> tuple[Any, ...]: ...


D = TypeVar("D", bound=Drawable)
T = TypeVar("T")


def base_key(priority: int, rollover: bool, paid: bool, products: frozenset[str] | None,
             end: int, start: int) -> tuple[Any, ...]:
    """Rank of a grant before the hierarchy tie-breaks: priority, then a rolled-over amount
    before fresh grants (rule 6), free before paid, narrower product lists first, earlier
    end, earlier start."""
    narrow = len(products) if products is not None else FOREVER
    return (priority, 0 if rollover else 1, 1 if paid else 0, narrow, end, start)


def usable(grant: Drawable, product: str, at_us: int) -> bool:
    """Whether a grant can pay for `product` at `at_us`. A grant ending at t cannot pay at t:
    intervals are half-open, and expiry at t runs before any usage at t."""
    return (
        grant.remaining > 0
        and grant.start <= at_us < grant.end
        and (grant.products is None or product in grant.products)
    )


def rank(key: tuple[Any, ...], distance: int, grant_id: str) -> tuple[Any, ...]:
    """A grant's place in rule 4's order across owners: its own rank, then own before an
    ancestor's and nearer before farther (`distance`), then the grant id."""
    return (key, distance, grant_id)


def own_rank(grant: D) -> tuple[Any, ...]:
    """Rank inside one holder (every grant at the same distance): what a holder keeps its
    grants sorted by, so a draw only filters and never sorts."""
    return rank(grant.key, 0, grant.id)


def in_order(grants: Iterable[D], product: str, at_us: int) -> list[D]:
    """The usable grants of a list already kept in rank order."""
    return [g for g in grants if usable(g, product, at_us)]


def take_in_order(available: Iterable[tuple[T, int]], amount: int) -> tuple[list[tuple[T, int]], int]:
    """Take `amount` from (source, available) pairs in the order given; returns the takes
    and what is left uncovered."""
    takes: list[tuple[T, int]] = []
    left = amount
    for source, units in available:
        if left <= 0:
            break
        take = units if units < left else left
        if take > 0:
            takes.append((source, take))
            left -= take
    return takes, left


def plan(grants: Iterable[D], amount: int) -> tuple[list[tuple[D, int]], int]:
    """Take `amount` from grants in the order given; returns the takes and what is left
    (take_in_order over each grant's remaining amount, written out: it runs per event)."""
    takes: list[tuple[D, int]] = []
    left = amount
    for g in grants:
        if left <= 0:
            break
        units = g.remaining
        take = units if units < left else left
        if take > 0:
            takes.append((g, take))
            left -= take
    return takes, left
