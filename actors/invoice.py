"""Invoices: lines accrue exactly during the period; each is rounded once when it closes."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from meterbook.actors.money import display, round_units


class Line(msgspec.Struct, kw_only=True):
    """One invoice line. `units` is money, exact at the currency's ledger scale; a usage line
    also counts its gross usage and what grants paid, in the unit the product is priced in."""

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


class ConsumptionOut(msgspec.Struct, kw_only=True):
    """A usage line's consumption, in the unit its product is priced in (a credit type or the
    currency): gross usage and the part grants paid. Never money unless `unit` is the currency."""

    unit: str
    gross: str
    credits_applied: str


class LineOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A line as written to invoices.json: `amount` is money in the invoice's currency."""

    kind: str
    description: str
    amount: str
    currency: str
    product: str | None = None
    customer: str | None = None
    quantity: str | None = None
    package: str | None = None
    consumption: ConsumptionOut | None = None


class InvoiceOut(msgspec.Struct, kw_only=True):
    """An invoice as written to invoices.json; `period` is its label (the period's start)."""

    id: str
    customer: str
    period: str
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

    def accrue_usage(self, product: str, name: str, source: str, own: bool, unit: str, money: int, gross: int,
                     credits: int, package: str | None) -> None:
        """Add one rated charge to the line of its product (and, on a consolidated invoice,
        of the descendant it came from): `money` billed, `gross` and `credits` in `unit`."""
        key = (product, source)
        line = self.usage.get(key)
        if line is None:
            label = name if own else f"{name} ({source})"
            line = Line(kind="usage", description=label, product=product, customer=source, unit=unit)
            self.usage[key] = line
            self.lines.append(line)
        if money:
            line.units += money
            pkg = package or ""
            line.by_package[pkg] = line.by_package.get(pkg, 0) + money
        if line.unit == unit:
            line.gross_units += gross
            line.credits_units += credits

    def status_at(self, now: int) -> str:
        """Its status at `now`: an open period that has ended is a draft, also when the run
        stopped before the next period opened (inside its grace, at a run's end)."""
        return "draft" if self.status == "open" and self.end <= now else self.status

    def rounded_total(self, scale: int, decimals: int) -> int:
        """Sum of the lines, each rounded half-up to the currency's decimals."""
        return sum(round_units(line.units, scale, decimals) for line in self.lines)

    def render(self, currency: str, scale: int, decimals: int, fmt_at: Callable[[int], str],
               amount_of: Callable[[str, int], str], now: int) -> InvoiceOut:
        """The invoice as written to invoices.json at engine time `now`; `amount_of(unit,
        units)` formats a consumption figure in the unit the product was priced in."""

        def money(units: int) -> str:
            return display(round_units(units, scale, decimals), scale, decimals)

        def consumption(ln: Line) -> ConsumptionOut | None:
            if ln.kind != "usage":
                return None
            unit = ln.unit or currency
            return ConsumptionOut(unit=unit, gross=amount_of(unit, ln.gross_units),
                                  credits_applied=amount_of(unit, ln.credits_units))

        lines = [
            LineOut(kind=ln.kind, description=ln.description, amount=money(ln.units), currency=currency,
                    product=ln.product, customer=ln.customer, quantity=ln.quantity, package=ln.package,
                    consumption=consumption(ln))
            for ln in self.lines
        ]
        label = fmt_at(self.start)
        return InvoiceOut(
            id=f"{self.customer}-{label}", customer=self.customer, period=label, period_start=label,
            period_end=fmt_at(self.end), status=self.status_at(now), currency=currency, lines=lines,
            total=display(self.rounded_total(scale, decimals), scale, decimals),
        )
