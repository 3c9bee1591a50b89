"""Read results out of a finished (or running) runtime: invoices, balances, breakage, roll-ups.

Results read the actors' state after the fact and never change it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec

from meterbook.actors import Customer
from meterbook.actors.holdings import Grant
from meterbook.actors.invoice import InvoiceOut
from meterbook.actors.mailbox import rollup_address
from meterbook.actors.money import display, from_units
from meterbook.actors.parent import ParentAccount
from meterbook.actors.periods import period_label
from meterbook.actors.pool import CreditPool
from meterbook.actors.seat import Seat
from meterbook.engine.runtime import Runtime
from meterbook.scenarios import Scenario
from meterbook.scenarios.types import format_at


class Results:
    """Queries over a runtime's actors and its ledger; every figure exact."""

    def __init__(self, runtime: Runtime, scenario: Scenario | None = None, warnings: list[str] | None = None) -> None:
        self.runtime = runtime
        self.scenario = scenario
        self.catalog = runtime.catalog
        self.book = runtime.book
        self.warnings = list(warnings or [])

    # -- reading actors -------------------------------------------------------------------
    def customers(self) -> list[Customer]:
        """Every customer: those the scenario declares in file order, then any created later."""
        declared = [c.id for c in self.scenario.customers] if self.scenario is not None else []
        order = {cid: i for i, cid in enumerate(declared)}
        created = {cid: i for i, cid in enumerate(self.runtime.customers)}  # creation order
        return sorted(self.runtime.customers.values(), key=lambda a: (order.get(a.id, len(order)), created[a.id]))

    def grants(self, customer: str) -> Iterator[Grant]:
        """Every grant a customer was ever given, rolled-over ones included, in funding order."""
        for gid, address in self.runtime.customer(customer).holders.items():
            holder = self.runtime.actor(address)
            assert isinstance(holder, CreditPool | Seat)
            yield holder.holdings.grants[gid]

    def grant(self, customer: str, grant: str) -> Grant:
        """One grant of a customer (KeyError if it has none by that id)."""
        for g in self.grants(customer):
            if g.terms.id == grant:
                return g
        raise KeyError(grant)

    def rollup(self, customer: str) -> ParentAccount:
        """A customer's ParentAccount (its subtree's roll-ups)."""
        actor = self.runtime.actor(rollup_address(customer))
        if actor is None:  # never had a child: nothing rolled up to it
            return ParentAccount(rollup_address(customer), customer, self.runtime.customer(customer).start)
        assert isinstance(actor, ParentAccount)
        return actor

    def parent(self, customer: str) -> str | None:
        """A customer's parent now."""
        return self.runtime.parent.get(customer)

    # -- figures --------------------------------------------------------------------------
    def money(self, units: int) -> str:
        """Currency text of an amount already rounded to the cent."""
        cur = self.catalog.currency
        return display(units, cur.scale, cur.decimals)

    def amount(self, unit: str, units: int) -> str:
        """Exact text of an amount of any unit (finer than display only when it has to be)."""
        u = self.catalog.units[unit]
        value = from_units(units, u.scale)
        shown = value.quantize(Decimal(1).scaleb(-u.decimals))
        return f"{shown:f}" if shown == value else f"{value.normalize():f}"

    def invoices(self) -> list[InvoiceOut]:
        """Every invoice of the run, customers in file order, periods in time order."""
        cur = self.catalog.currency
        now = self.runtime.now
        return [inv.render(cur.id, cur.scale, cur.decimals, period_label, self.amount, now)
                for actor in self.customers() for inv in actor.invoices]

    def invoice_total(self, customer: str, period: int) -> int | None:
        """The rounded total of one customer's invoice for the period starting then."""
        cur = self.catalog.currency
        for inv in self.runtime.customer(customer).invoices:
            if inv.start == period:
                return inv.rounded_total(cur.scale, cur.decimals)
        return None

    def balance(self, customer: str, unit: str, at_us: int, seat: str | None = None,
                grant: str | None = None) -> int:
        """What remains at `at_us` in the customer's own grants of `unit` active then: one
        grant, one seat's allocation, or (default) the pooled grants."""
        accounts = []
        for g in self.grants(customer):
            t = g.terms
            if t.unit != unit or not t.start <= at_us < t.end:
                continue
            if grant is not None:
                if t.id != grant:
                    continue
            elif self._seat_of(customer, t.id) != seat:
                continue
            accounts.append(t.account)
        return -self.book.balances(accounts, at_us) if accounts else 0

    def _seat_of(self, customer: str, grant: str) -> str | None:
        address = self.runtime.customer(customer).holders[grant]
        holder = self.runtime.actor(address)
        return holder.seat if isinstance(holder, Seat) else None

    def breakage(self, customer: str, unit: str, period: int) -> int:
        """What expired unused in a period, for one customer and unit."""
        return self.runtime.customer(customer).breakage.get((unit, period), 0)

    def subtree_usage(self, customer: str) -> dict[int, int]:
        """Usage rated in the currency by period: the customer's own plus its descendants'."""
        return _add(self.runtime.customer(customer).own_usage, self.rollup(customer).usage)

    def subtree_spend(self, customer: str) -> dict[int, int]:
        """Invoiced totals by period: the customer's own plus its descendants'."""
        return _add(self.runtime.customer(customer).own_spend, self.rollup(customer).spend)

    def rollup_usage(self, customer: str, period: int) -> int:
        """Usage rated in the currency across a customer's subtree in a period."""
        return self.subtree_usage(customer).get(period, 0)

    def denied(self, customer: str) -> int:
        """Events blocked over the whole run."""
        return self.runtime.customer(customer).denied

    def summary(self) -> dict[str, Any]:
        """The run in figures: per customer invoices, denials, breakage, end balances."""
        rt = self.runtime
        cur = self.catalog.currency
        customers = []
        total = 0
        for actor in self.customers():
            invs = []
            for inv in actor.invoices:
                t = inv.rounded_total(cur.scale, cur.decimals)
                total += t if inv.status == "final" else 0
                invs.append({"period": period_label(inv.start), "status": inv.status, "total": self.money(t)})
            breakage = [
                {"credit_type": unit, "period": period_label(period), "amount": self.amount(unit, units)}
                for (unit, period), units in sorted(actor.breakage.items())
            ]
            remaining: dict[str, int] = {}
            for g in self.grants(actor.id):
                if g.remaining and g.terms.end > rt.now:
                    remaining[g.terms.unit] = remaining.get(g.terms.unit, 0) + g.remaining
            customers.append({
                "id": actor.id,
                "package": actor.contract.package,
                "parent": self.parent(actor.id),
                "invoices": invs,
                "denied": actor.denied,
                "denied_events": actor.denied_ids,
                "breakage": breakage,
                "grants_remaining": {u: self.amount(u, v) for u, v in sorted(remaining.items())},
            })
        s = self.scenario
        return {
            "name": s.name if s is not None else "",
            "seed": s.seed if s is not None else 0,
            "start": format_at(rt.start),
            "end": format_at(rt.horizon),
            "currency": cur.id,
            "inputs": {"accepted": rt.accepted, "duplicates": rt.duplicates,
                       "denied": sum(a.denied for a in rt.customers.values())},
            "invoiced_total": self.money(total),
            "ledger_transactions": self.book.next_txn - 1,
            "warnings": self.warnings,
            "customers": customers,
        }


def _add(a: dict[int, int], b: dict[int, int]) -> dict[int, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def encode_json(obj: Any) -> bytes:
    """Stable, readable JSON (two-space indent, trailing newline)."""
    return msgspec.json.format(msgspec.json.encode(obj), indent=2) + b"\n"
