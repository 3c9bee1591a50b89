"""Read results out of a finished (or running) engine: invoices, balances, breakage, roll-ups."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from meterbook.actors.invoice import InvoiceOut
from meterbook.actors.money import display, from_units
from meterbook.engine.runtime import Engine
from meterbook.scenarios.types import format_at


class Results:
    """Queries over an engine's actors and its ledger; every figure exact."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.catalog = engine.catalog
        self.book = engine.book

    def money(self, units: int) -> str:
        """Currency text of an amount already rounded to the cent."""
        cur = self.catalog.currency
        return display(units, cur.scale, cur.decimals)

    def amount(self, unit: str, units: int) -> str:
        """Exact text of an amount of any unit (finer than display only when it has to be)."""
        u = self.catalog.units[unit]
        value = from_units(units, u.scale)
        shown = value.quantize(_q(u.decimals))
        return f"{shown:f}" if shown == value else f"{value.normalize():f}"

    def invoices(self) -> list[InvoiceOut]:
        """Every invoice of the run, customers in file order, periods in time order."""
        cur = self.catalog.currency
        out = []
        for actor in self.engine.customers.values():
            for inv in actor.invoices:
                out.append(inv.render(cur.id, cur.scale, cur.decimals, format_at, self.amount))
        return out

    def invoice_total(self, customer: str, period: int) -> int | None:
        """The rounded total of one customer's invoice for the period starting then."""
        cur = self.catalog.currency
        for inv in self.engine.customers[customer].invoices:
            if inv.start == period:
                return inv.rounded_total(cur.scale, cur.decimals)
        return None

    def balance(self, customer: str, unit: str, at_us: int, seat: str | None = None,
                grant: str | None = None) -> int:
        """What remains at `at_us` in the customer's own grants of `unit` active then: one
        grant, one seat's allocation, or (default) the pooled grants."""
        actor = self.engine.customers[customer]
        ids = []
        for g in actor.grants.values():
            if g.unit != unit or not g.start <= at_us < g.end:
                continue
            if grant is not None:
                if g.id != grant:
                    continue
            elif g.seat != seat:
                continue
            ids.append(g.account)
        if not ids:
            return 0
        self.book.flush()
        marks = ",".join("?" * len(ids))
        row = self.book.conn.execute(
            "SELECT COALESCE(SUM(p.amount), 0) FROM postings p JOIN transactions t "
            f"ON t.id = p.transaction_id WHERE p.account_id IN ({marks}) AND t.at_us <= ?",
            (*ids, at_us),
        ).fetchone()
        return -int(row[0])

    def breakage(self, customer: str, unit: str, period: int) -> int:
        """What expired unused in a period, for one customer and unit."""
        return self.engine.customers[customer].breakage.get((unit, period), 0)

    def rollup_usage(self, customer: str, period: int) -> int:
        """Usage rated in the currency across a customer's subtree in a period."""
        return self.engine.customers[customer].rollup.usage.get(period, 0)

    def denied(self, customer: str) -> int:
        """Events blocked over the whole run."""
        return self.engine.customers[customer].denied

    def summary(self) -> dict[str, Any]:
        """The run in figures: per customer invoices, denials, breakage, end balances."""
        e = self.engine
        customers = []
        total = 0
        for actor in e.customers.values():
            invs = []
            for inv in actor.invoices:
                t = inv.rounded_total(self.catalog.currency.scale, self.catalog.currency.decimals)
                total += t if inv.status == "final" else 0
                invs.append({"period": format_at(inv.start), "status": inv.status, "total": self.money(t)})
            breakage = [
                {"credit_type": unit, "period": format_at(period), "amount": self.amount(unit, units)}
                for (unit, period), units in sorted(actor.breakage.items())
            ]
            remaining: dict[str, int] = {}
            for g in actor.grants.values():
                if g.active:
                    remaining[g.unit] = remaining.get(g.unit, 0) + g.remaining
            customers.append({
                "id": actor.id,
                "package": actor.contract.package,
                "parent": actor.parent.id if actor.parent else None,
                "invoices": invs,
                "denied": actor.denied,
                "denied_events": actor.denied_ids,
                "breakage": breakage,
                "grants_remaining": {u: self.amount(u, v) for u, v in sorted(remaining.items())},
            })
        return {
            "name": e.scenario.name,
            "seed": e.scenario.seed,
            "start": format_at(e.scenario.start),
            "end": format_at(e.scenario.end),
            "currency": self.catalog.currency.id,
            "inputs": {"accepted": e.accepted, "duplicates": e.duplicates,
                       "denied": sum(a.denied for a in e.customers.values())},
            "invoiced_total": self.money(total),
            "ledger_transactions": self.book.next_txn - 1,
            "customers": customers,
        }


def _q(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def encode_json(obj: Any) -> bytes:
    """Stable, readable JSON (two-space indent, trailing newline)."""
    return msgspec.json.format(msgspec.json.encode(obj), indent=2) + b"\n"
