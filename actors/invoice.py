"""Invoices: lines accrue exactly during the period; each is rounded once when it closes."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from meterbook.actors.money import display, round_units


class Line(msgspec.Struct, kw_only=True):
    """One invoice line. `units` is exact at the currency's ledger scale."""

    kind: str
    description: str
    units: int = 0
    product: str | None = None
    customer: str | None = None
    quantity: str | None = None
    gross_units: int = 0
    credits_units: int = 0
    unit: str | None = None
    package: str | None = None
    by_package: dict[str, int] = {}


class LineOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    kind: str
    description: str
    amount: str
    product: str | None = None
    customer: str | None = None
    quantity: str | None = None
    gross: str | None = None
    credits_applied: str | None = None
    unit: str | None = None
    package: str | None = None


class InvoiceOut(msgspec.Struct, kw_only=True):
    id: str
    customer: str
    period_start: str
    period_end: str
    status: str
    currency: str
    lines: list[LineOut]
    total: str


class Invoice:
    """The invoice of one customer and period."""

    def __init__(self, customer: str, start: int, end: int) -> None:
        self.customer = customer
        self.start = start
        self.end = end
        self.lines: list[Line] = []
        self.usage: dict[tuple[str, str], Line] = {}
        self.status = "open"
        self.total_units = 0

    def add(self, line: Line) -> None:
        """Append a line."""
        self.lines.append(line)

    def usage_line(self, product: str, name: str, customer: str, own: bool) -> Line:
        """The one line per usage product (and, on a consolidated invoice, per child)."""
        key = (product, customer)
        line = self.usage.get(key)
        if line is None:
            label = name if own else f"{name} ({customer})"
            line = Line(kind="usage", description=label, product=product, customer=customer)
            self.usage[key] = line
            self.lines.append(line)
        return line

    def rounded_total(self, scale: int, decimals: int) -> int:
        """Sum of the lines, each rounded half-up to the currency's decimals."""
        return sum(round_units(line.units, scale, decimals) for line in self.lines)

    def render(self, currency: str, scale: int, decimals: int, fmt_at: Callable[[int], str],
               amount_of: Callable[[str, int], str]) -> InvoiceOut:
        """The invoice as written to invoices.json; `amount_of(unit, units)` formats a
        gross or credits figure in the unit the product was priced in."""

        def money(units: int) -> str:
            return display(round_units(units, scale, decimals), scale, decimals)

        def priced(ln: Line, units: int) -> str | None:
            return amount_of(ln.unit or currency, units) if ln.kind == "usage" else None

        lines = [
            LineOut(
                kind=ln.kind, description=ln.description, amount=money(ln.units),
                product=ln.product, customer=ln.customer, quantity=ln.quantity,
                gross=priced(ln, ln.gross_units), credits_applied=priced(ln, ln.credits_units),
                unit=(ln.unit or currency) if ln.kind == "usage" else None, package=ln.package,
            )
            for ln in self.lines
        ]
        return InvoiceOut(
            id=f"{self.customer}-{fmt_at(self.start)[:10]}", customer=self.customer, period_start=fmt_at(self.start), period_end=fmt_at(self.end),
            status=self.status, currency=currency, lines=lines,
            total=display(self.rounded_total(scale, decimals), scale, decimals),
        )
