"""The CreditPool actor: a customer's pooled grants of one unit (commits and credits)."""

from __future__ import annotations

from typing import Any

from meterbook.actors.accounts import Chart
from meterbook.actors.errors import CommandError
from meterbook.actors.holdings import Holdings
from meterbook.actors.mailbox import Mailbox, rollup_address
from meterbook.actors.messages import (
    Commit,
    Drawn,
    Forfeited,
    ForfeitRecurring,
    Fund,
    Held,
    Msg,
    Offer,
    Quote,
    Release,
    Reserve,
    Retire,
    SharedDraw,
    Take,
)
from meterbook.ledger import Book


class CreditPool:
    """Holds one customer's pooled grants of one unit; draws in rule-4 order; tells the owner's
    ParentAccount about every draw a descendant makes on a shared grant."""

    def __init__(self, address: str, owner: str, unit: str, currency: str, chart: Chart, book: Book,
                 mail: Mailbox) -> None:
        self.address = address
        self.owner = owner
        self.unit = unit
        self.currency = currency
        self.mail = mail
        self.holdings = Holdings(owner, chart, book)

    def handle(self, msg: Msg, now: int) -> Any:
        """Apply one message; answers Offer, Held, Drawn, Retired or Forfeited."""
        h = self.holdings
        kind = type(msg)
        if kind is Reserve:
            assert isinstance(msg, Reserve)
            return Held(h.reserve(msg.hold, msg.unit, msg.product, msg.at_us, msg.units, msg.requester))
        if kind is Commit:
            assert isinstance(msg, Commit)
            return self._commit(msg)
        if kind is Quote:
            assert isinstance(msg, Quote)
            return Offer(self.address, h.offer(msg.unit, msg.product, msg.at_us, msg.requester))
        if kind is Take:
            assert isinstance(msg, Take)
            return Held(h.take(msg.hold, msg.takes))
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
        raise CommandError(f"a credit pool cannot handle {kind.__name__}")

    def _commit(self, msg: Commit) -> Drawn:
        requester = msg.requester
        takes = self.holdings.commit(msg.hold, requester)
        if requester != self.owner:
            for t in takes:
                self.mail.tell(rollup_address(self.owner), SharedDraw(
                    at_us=msg.at_us, grant=t.grant, descendant=requester, units=t.units, cause=msg.cause))
        return Drawn(takes)
