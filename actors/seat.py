"""The Seat actor: one assigned user of a seat subscription and its individual allocation."""

from __future__ import annotations

from meterbook.actors.pool import Grant


class Seat:
    """A seat holds the grants allocated to it alone; only events naming it draw them."""

    def __init__(self, customer: str, subscription: str, seat_id: str) -> None:
        self.customer = customer
        self.subscription = subscription
        self.id = seat_id
        self.assigned = True
        self.grants: list[Grant] = []

    def add(self, grant: Grant) -> None:
        """Hold one more individual grant."""
        self.grants.append(grant)

    def drop(self, grant: Grant) -> None:
        """Stop holding a grant that ended."""
        self.grants.remove(grant)

    def of_unit(self, unit: str) -> list[Grant]:
        """This seat's grants in one unit."""
        return [g for g in self.grants if g.unit == unit]
