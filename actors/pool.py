"""Grants and the CreditPool actor that holds a customer's grants of one unit."""

from __future__ import annotations

from meterbook.actors.catalog import FOREVER
from meterbook.actors.drawdown import base_key


class Grant:
    """A commit or credit: what is left of it (ledger scale) and how it ranks in drawdown."""

    __slots__ = (
        "account",
        "active",
        "child_access",
        "commit_type",
        "draws",
        "end",
        "granted",
        "id",
        "key",
        "owner",
        "paid",
        "priority",
        "products",
        "recurring",
        "remaining",
        "rollover",
        "seat",
        "start",
        "unit",
    )

    def __init__(
        self, *, id: str, owner: str, unit: str, amount: int, priority: int, paid: bool,
        products: frozenset[str] | None, start: int, end: int | None,
        child_access: str | frozenset[str] = "none", seat: str | None = None,
        rollover: bool = False, recurring: str | None = None, commit_type: str | None = None,
        account: int = 0,
    ) -> None:
        self.id = id
        self.owner = owner
        self.unit = unit
        self.granted = amount
        self.remaining = 0  # funded on activation
        self.priority = priority
        self.paid = paid
        self.products = products
        self.start = start
        self.end = FOREVER if end is None else end
        self.child_access = child_access
        self.seat = seat
        self.rollover = rollover
        self.recurring = recurring
        self.commit_type = commit_type
        self.account = account
        self.key = base_key(priority, rollover, paid, products, self.end, start)
        self.draws: dict[str, int] = {}
        self.active = False

    def admits(self, customer: str) -> bool:
        """Whether a descendant may draw this grant (`child_access`)."""
        access = self.child_access
        return access == "all" or (not isinstance(access, str) and customer in access)


class CreditPool:
    """A customer's pooled grants of one unit (seat allocations live on Seat actors)."""

    def __init__(self, owner: str, unit: str) -> None:
        self.owner = owner
        self.unit = unit
        self.grants: list[Grant] = []
        self.shared: list[Grant] = []

    def add(self, grant: Grant) -> None:
        """Hold a newly funded grant."""
        self.grants.append(grant)
        if grant.child_access != "none":
            self.shared.append(grant)

    def drop(self, grant: Grant) -> None:
        """Stop holding a grant that expired or was forfeited (its ledger account stays)."""
        self.grants.remove(grant)
        if grant in self.shared:
            self.shared.remove(grant)
