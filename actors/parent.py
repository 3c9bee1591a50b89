"""The ParentAccount actor: roll-ups of usage, spend and shared-grant draws over a subtree."""

from __future__ import annotations

from collections.abc import Callable

import msgspec


class Rollup(msgspec.Struct, frozen=True):
    """Usage rated in the currency (before credits) or spend, from one account of a subtree."""

    source: str
    at_us: int
    usage_units: int = 0
    spend_units: int = 0


class ParentAccount:
    """Totals per period of everything below (and including) one account."""

    def __init__(self, customer: str, period_key: Callable[[int], int]) -> None:
        self.customer = customer
        self.period_key = period_key
        self.usage: dict[int, int] = {}
        self.spend: dict[int, int] = {}
        self.draws: dict[tuple[int, str, str], int] = {}

    def handle(self, msg: Rollup) -> None:
        """Add one roll-up to the period it falls in."""
        period = self.period_key(msg.at_us)
        if msg.usage_units:
            self.usage[period] = self.usage.get(period, 0) + msg.usage_units
        if msg.spend_units:
            self.spend[period] = self.spend.get(period, 0) + msg.spend_units

    def drawn(self, at_us: int, grant: str, descendant: str, units: int) -> None:
        """A descendant drew `units` from one of this account's shared grants."""
        key = (self.period_key(at_us), grant, descendant)
        self.draws[key] = self.draws.get(key, 0) + units
