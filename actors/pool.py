"""The CreditPool actor: a customer's pooled grants of one unit (commits and credits)."""

from __future__ import annotations

from meterbook.actors.accounts import Chart
from meterbook.actors.holdings import GrantHolder, Holdings
from meterbook.actors.mailbox import Mailbox, rollup_address
from meterbook.actors.messages import Commit, Drawn, SharedDraw
from meterbook.ledger import Book


class CreditPool(GrantHolder):
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

    def _commit(self, msg: Commit, now: int) -> Drawn:
        takes = self.holdings.commit(msg.hold, msg.requester)
        if msg.requester != self.owner:
            for t in takes:
                self.mail.tell(rollup_address(self.owner), SharedDraw(
                    at_us=msg.at_us, grant=t.grant, descendant=msg.requester, units=t.units, cause=msg.cause))
        return Drawn(takes)
