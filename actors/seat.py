"""The Seat actor: one assigned user of a seat subscription and its individual allocation."""

from __future__ import annotations

from typing import Any

from meterbook.actors.accounts import Chart
from meterbook.actors.errors import CommandError
from meterbook.actors.holdings import Holdings
from meterbook.actors.messages import (
    Commit,
    Drawn,
    Forfeited,
    ForfeitRecurring,
    Fund,
    Held,
    Msg,
    Release,
    Reserve,
    Retire,
)
from meterbook.ledger import Book


class Seat:
    """Holds the grants allocated to one seat alone; only events naming the seat draw them,
    and before any pooled grant (rule 4)."""

    def __init__(self, address: str, customer: str, seat: str, currency: str, chart: Chart, book: Book) -> None:
        self.address = address
        self.customer = customer
        self.seat = seat
        self.currency = currency
        self.holdings = Holdings(customer, chart, book)

    def handle(self, msg: Msg, now: int) -> Any:
        """Apply one message; answers Held, Drawn, Retired or Forfeited."""
        h = self.holdings
        kind = type(msg)
        if kind is Reserve:
            assert isinstance(msg, Reserve)
            return Held(h.reserve(msg.hold, msg.unit, msg.product, msg.at_us, msg.units, msg.requester))
        if kind is Commit:
            assert isinstance(msg, Commit)
            return Drawn(h.commit(msg.hold, self.customer))
        if kind is Release:
            assert isinstance(msg, Release)
            h.release(msg.hold)
            return None
        if kind is Fund:
            assert isinstance(msg, Fund)
            h.fund(msg.grant)
            return None
        if kind is Retire:
            assert isinstance(msg, Retire)
            return h.retire(msg.grant, msg.kind, msg.carry_cap, msg.carry_end, now, msg.cause, self.currency)
        if kind is ForfeitRecurring:
            return Forfeited(h.forfeit_recurring(now, msg.cause, self.currency))
        raise CommandError(f"a seat cannot handle {kind.__name__}")
