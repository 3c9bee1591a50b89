"""The ParentAccount actor: roll-ups of usage, spend and shared-grant draws over a subtree."""

from __future__ import annotations

from typing import Any

from meterbook.actors.errors import CommandError
from meterbook.actors.messages import Msg, Rollup, SharedDraw
from meterbook.actors.periods import month_start, next_month, period_of


class ParentAccount:
    """Totals per period of everything below one account (its descendants; the account's own
    figures are its Customer's). Periods are the account's own (a first period starts at its
    contract start)."""

    def __init__(self, address: str, customer: str, start: int) -> None:
        self.address = address
        self.customer = customer
        self.start = start
        self.usage: dict[int, int] = {}
        self.spend: dict[int, int] = {}
        self.draws: dict[tuple[int, str, str], int] = {}
        self._window = (0, 0, 0)  # (from, until, period): the last period looked up

    def _period(self, at_us: int) -> int:
        """The account's period holding `at_us`; roll-ups come in time order, so the last
        window found almost always holds the next one too."""
        lo, hi, period = self._window
        if lo <= at_us < hi:
            return period
        period = period_of(self.start, at_us)
        self._window = (month_start(at_us), next_month(at_us), period)
        return period

    def handle(self, msg: Msg, now: int) -> Any:
        """Add one roll-up or shared-grant draw to the period it falls in."""
        if type(msg) is Rollup:
            assert isinstance(msg, Rollup)
            period = self._period(msg.at_us)
            if msg.usage_units:
                self.usage[period] = self.usage.get(period, 0) + msg.usage_units
            if msg.spend_units:
                self.spend[period] = self.spend.get(period, 0) + msg.spend_units
            return None
        if type(msg) is SharedDraw:
            assert isinstance(msg, SharedDraw)
            key = (self._period(msg.at_us), msg.grant, msg.descendant)
            self.draws[key] = self.draws.get(key, 0) + msg.units
            return None
        raise CommandError(f"a parent account cannot handle {type(msg).__name__}")
