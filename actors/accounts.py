"""The chart of accounts, in one place: every account name, type and unit the domain uses."""

from __future__ import annotations

from meterbook.ledger import Book


class Chart:
    """Opens accounts on the book on first use and hands out their ids."""

    def __init__(self, book: Book, currency: str) -> None:
        self.book = book
        self.currency = currency
        self._cache: dict[tuple[str, ...], int] = {}

    def _open(self, key: tuple[str, ...], name: str, type_: str, unit: str) -> int:
        ident = self._cache.get(key)
        if ident is None:
            ident = self.book.account(name, type_, unit)
            self._cache[key] = ident
        return ident

    def unbilled(self, customer: str) -> int:
        """Charges accrued on a customer's open invoice, exact, not yet rounded or billed."""
        return self._open(("u", customer), f"customer/{customer}/unbilled", "asset", self.currency)

    def receivable(self, customer: str) -> int:
        """What finalized invoices say the customer owes."""
        return self._open(("r", customer), f"customer/{customer}/receivable", "asset", self.currency)

    def grant(self, customer: str, grant_id: str, unit: str) -> int:
        """What we still owe a customer on one grant (commit or credit), in its unit."""
        return self._open(("g", customer, grant_id), f"grant/{customer}/{grant_id}", "liability", unit)

    def commit_contract(self, customer: str, grant_id: str) -> int:
        """A commit's contracted amount not yet invoiced (prepaid) or consumed (postpaid)."""
        return self._open(
            ("c", customer, grant_id), f"commit/{customer}/{grant_id}/contract", "asset", self.currency
        )

    def revenue(self, product: str, unit: str) -> int:
        """Usage or subscription revenue of a product, in the unit it was priced in."""
        return self._open(("rev", product, unit), f"house/revenue/{product}/{unit}", "revenue", unit)

    def credit_packs(self) -> int:
        """Money received for add-on credit packs."""
        return self._open(("packs",), "house/revenue/credit_packs", "revenue", self.currency)

    def promotional(self, unit: str) -> int:
        """Free credits issued (cost basis zero)."""
        return self._open(("promo", unit), f"house/expense/promotional/{unit}", "expense", unit)

    def commit_discount(self) -> int:
        """The part of a prepaid commit that its invoice schedule never bills."""
        return self._open(("disc",), "house/expense/commit_discount", "expense", self.currency)

    def breakage(self, unit: str) -> int:
        """Credits and commits that expired or were forfeited unused."""
        return self._open(("brk", unit), f"house/revenue/breakage/{unit}", "revenue", unit)

    def issued(self, unit: str) -> int:
        """Credits of a credit type sold for money (add-on packs)."""
        return self._open(("iss", unit), f"house/equity/issued/{unit}", "equity", unit)

    def overage(self, unit: str) -> int:
        """Credits consumed that no grant covered; billed in the currency instead."""
        return self._open(("ovg", unit), f"house/equity/overage/{unit}", "equity", unit)

    def rounding(self) -> int:
        """The difference between exact charges and invoice lines rounded to the cent."""
        return self._open(("round",), "house/revenue/rounding", "revenue", self.currency)
