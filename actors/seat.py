"""The Seat actor: one assigned user of a seat subscription and its individual allocation."""

from __future__ import annotations

from meterbook.actors.accounts import Chart
from meterbook.actors.holdings import GrantHolder, Holdings
from meterbook.ledger import Book


class Seat(GrantHolder):
    """Holds the grants allocated to one seat alone; only events naming the seat draw them,
    and before any pooled grant (rule 4)."""

    def __init__(self, address: str, customer: str, seat: str, currency: str, chart: Chart, book: Book) -> None:
        self.address = address
        self.customer = customer
        self.seat = seat
        self.currency = currency
        self.holdings = Holdings(customer, chart, book)
