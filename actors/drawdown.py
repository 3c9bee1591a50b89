"""The drawdown order of SCENARIOS.md rule 4, as plain functions over grants."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from meterbook.actors.catalog import FOREVER


class Drawable(Protocol):
    id: str
    remaining: int
    start: int
    end: int
    products: frozenset[str] | None
    key: tuple


def base_key(priority: int, rollover: bool, paid: bool, products: frozenset[str] | None,
             end: int, start: int) -> tuple:
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


def ordered(groups: Iterable[tuple[int, Iterable[Drawable]]], product: str, at_us: int) -> list:
    """Usable grants of several owners, `groups` being (distance from the drawing customer,
    grants), in rule-4 order: own before an ancestor's, nearer before farther, then id."""
    found = []
    for distance, grants in groups:
        for g in grants:
            if usable(g, product, at_us):
                found.append((g.key, distance, g.id, g))
    found.sort(key=lambda item: item[:3])
    return [item[3] for item in found]


def plan(grants: Iterable[Drawable], amount: int) -> tuple[list[tuple[Drawable, int]], int]:
    """Take `amount` from grants in the order given; returns the takes and what is left."""
    takes: list[tuple[Drawable, int]] = []
    left = amount
    for g in grants:
        if left <= 0:
            break
        take = g.remaining if g.remaining < left else left
        if take > 0:
            takes.append((g, take))
            left -= take
    return takes, left
