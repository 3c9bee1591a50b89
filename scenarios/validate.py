"""Cross-reference and consistency checks of a decoded scenario, each naming file and path."""

from __future__ import annotations

from collections.abc import Iterable

from meterbook.scenarios.errors import ScenarioError
from meterbook.scenarios.format import Commit, Contract, Credit, Product, Rate, Scenario
from meterbook.scenarios.types import format_at


class _Checker:
    """Walks a scenario once, raising the first problem found."""

    def __init__(self, scenario: Scenario, file: str) -> None:
        self.s = scenario
        self.file = file
        self.products = {p.id: p for p in scenario.products}
        self.units = {scenario.currency} | {c.id for c in scenario.credit_types}
        self.cards = {r.id for r in scenario.rate_cards}
        self.packages = {p.id: p for p in scenario.packages}
        self.customers = {c.id: c for c in scenario.customers}

    def fail(self, path: str, reason: str) -> None:
        """Raise the error for `path`."""
        raise ScenarioError(self.file, path, reason)

    def unique(self, ids: Iterable[str], path: str, kind: str) -> None:
        """Refuse a repeated id within one kind."""
        seen: set[str] = set()
        for i, ident in enumerate(ids):
            if ident in seen:
                self.fail(f"{path}[{i}].id", f"duplicate {kind} id {ident!r}")
            seen.add(ident)

    def ref(self, value: str, known: Iterable[str], path: str, kind: str) -> None:
        """Refuse a reference to an id that is not declared."""
        if value not in known:
            self.fail(path, f"unknown {kind} {value!r}")

    def run(self) -> None:
        """Check the whole scenario, in file order."""
        s = self.s
        if s.end <= s.start:
            self.fail("$.end", "must be after start")
        self.unique((c.id for c in s.credit_types), "$.credit_types", "credit type")
        for i, ct in enumerate(s.credit_types):
            if ct.id == s.currency:
                self.fail(f"$.credit_types[{i}].id", "a credit type cannot share the currency's id")
            if not 0 <= ct.decimals <= 6:
                self.fail(f"$.credit_types[{i}].decimals", "must be between 0 and 6")
        self.unique((p.id for p in s.products), "$.products", "product")
        for i, p in enumerate(s.products):
            self.product(p, f"$.products[{i}]")
        self.unique((r.id for r in s.rate_cards), "$.rate_cards", "rate card")
        for i, card in enumerate(s.rate_cards):
            for j, rate in enumerate(card.rates):
                self.rate(rate, f"$.rate_cards[{i}].rates[{j}]")
        self.unique((p.id for p in s.packages), "$.packages", "package")
        for i, pkg in enumerate(s.packages):
            self.contract(pkg, f"$.packages[{i}]")
        self.unique((c.id for c in s.customers), "$.customers", "customer")
        for i in range(len(s.customers)):
            self.customer(i)
        self.cycles()
        for i in range(len(s.timeline)):
            self.entry(i)
        for i in range(len(s.usage)):
            self.generator(i)
        if s.expect is not None:
            self.expect()

    def product(self, p: Product, path: str) -> None:
        """A usage product needs a metric; a subscription has none."""
        if p.type == "usage":
            if p.metric is None:
                self.fail(f"{path}.metric", "a usage product needs a metric")
            elif p.metric.aggregation != "count" and not p.metric.property:
                self.fail(f"{path}.metric.property", f"{p.metric.aggregation} needs a property")
        elif p.metric is not None:
            self.fail(f"{path}.metric", "a subscription product has no metric")

    def rate(self, rate: Rate, path: str) -> None:
        """A rate names a known product and unit, with one price form and ascending tiers."""
        self.ref(rate.product, self.products, f"{path}.product", "product")
        if (rate.price is None) == (rate.tiers is None):
            self.fail(path, "give exactly one of price or tiers")
        if rate.credit_type is not None:
            self.ref(rate.credit_type, self.units, f"{path}.credit_type", "credit type")
        if rate.tiers is not None:
            if not rate.tiers:
                self.fail(f"{path}.tiers", "needs at least one tier")
            last = None
            for k, tier in enumerate(rate.tiers):
                last_tier = k == len(rate.tiers) - 1
                if (tier.up_to is None) != last_tier:
                    self.fail(f"{path}.tiers[{k}].up_to", "every tier but the last needs up_to")
                if tier.up_to is not None:
                    if last is not None and tier.up_to <= last:
                        self.fail(f"{path}.tiers[{k}].up_to", "tiers must ascend")
                    last = tier.up_to
        if self.products[rate.product].type == "subscription":
            if rate.tiers is not None:
                self.fail(f"{path}.tiers", "a subscription takes a flat price")
            if rate.credit_type not in (None, self.s.currency):
                self.fail(f"{path}.credit_type", f"a subscription is priced in the currency ({self.s.currency})")

    def grants(self, items: list[Credit] | list[Commit], path: str) -> None:
        """Credits or commits: known units, products and accounts; sane dates."""
        for k, g in enumerate(items):
            if g.credit_type is not None:
                self.ref(g.credit_type, self.units, f"{path}[{k}].credit_type", "credit type")
            for m, prod in enumerate(g.products or []):
                self.ref(prod, self.products, f"{path}[{k}].products[{m}]", "product")
            if isinstance(g.child_access, list):
                for m, cid in enumerate(g.child_access):
                    self.ref(cid, self.customers, f"{path}[{k}].child_access[{m}]", "customer")
            if g.amount < 0:
                self.fail(f"{path}[{k}].amount", "must not be negative")
            if g.start is not None and g.end is not None and g.end <= g.start:
                self.fail(f"{path}[{k}].end", "must be after start")
            if g.months is not None and (g.end is not None or g.months < 1):
                self.fail(f"{path}[{k}].months", "give months (at least 1) or end, not both")

    def contract(self, c: Contract, path: str) -> None:
        """A contract or package: rate card, overrides, subscriptions, grants."""
        self.ref(c.rate_card, self.cards, f"{path}.rate_card", "rate card")
        for k, rate in enumerate(c.overrides):
            self.rate(rate, f"{path}.overrides[{k}]")
        subs = {}
        for k, sub in enumerate(c.subscriptions):
            sp = f"{path}.subscriptions[{k}]"
            if sub.id in subs:
                self.fail(f"{sp}.id", f"duplicate subscription id {sub.id!r}")
            subs[sub.id] = sub
            self.ref(sub.product, self.products, f"{sp}.product", "product")
            if self.products[sub.product].type != "subscription":
                self.fail(f"{sp}.product", f"{sub.product!r} is not a subscription product")
            if sub.seat_based and sub.quantity is not None:
                self.fail(f"{sp}.quantity", "a seat-based subscription counts its seats")
            if sub.quantity is not None and sub.quantity < 0:
                self.fail(f"{sp}.quantity", "must not be negative")
        self.grants(c.credits, f"{path}.credits")
        self.grants(c.commits, f"{path}.commits")
        for k, rc in enumerate(c.recurring_credits):
            rp = f"{path}.recurring_credits[{k}]"
            if rc.credit_type is not None:
                self.ref(rc.credit_type, self.units, f"{rp}.credit_type", "credit type")
            for m, prod in enumerate(rc.products or []):
                self.ref(prod, self.products, f"{rp}.products[{m}]", "product")
            if rc.per_seat_of is not None:
                sub = subs.get(rc.per_seat_of)
                if sub is None:
                    self.fail(f"{rp}.per_seat_of", f"unknown subscription {rc.per_seat_of!r}")
                elif not sub.seat_based:
                    self.fail(
                        f"{rp}.per_seat_of",
                        f"subscription {rc.per_seat_of!r} is not seat-based (seat_based: true)",
                    )
            elif rc.allocation == "individual":
                self.fail(f"{rp}.allocation", "individual allocation needs per_seat_of")
            if rc.rollover is not None and not 0 <= rc.rollover <= 1:
                self.fail(f"{rp}.rollover", "must be a fraction between 0 and 1")

    def customer(self, i: int) -> None:
        """A customer: one of package/contract, parent, start, seats."""
        c = self.s.customers[i]
        path = f"$.customers[{i}]"
        if (c.package is None) == (c.contract is None):
            self.fail(path, "give exactly one of package or contract")
        if c.package is not None:
            self.ref(c.package, self.packages, f"{path}.package", "package")
        if c.contract is not None:
            self.contract(c.contract, f"{path}.contract")
        if c.parent is not None:
            self.ref(c.parent, self.customers, f"{path}.parent", "customer")
            parent_start = self.customers[c.parent].start or self.s.start
            if c.payer == "parent" and (c.start or self.s.start) < parent_start:
                self.fail(f"{path}.start", f"a child paid by its parent cannot start before {c.parent!r}")
        elif c.payer == "parent":
            self.fail(f"{path}.payer", "payer: parent needs a parent")
        if c.start is not None and not self.s.start <= c.start < self.s.end:
            self.fail(f"{path}.start", "must lie inside the simulation window")
        if c.seats:
            contract = c.contract or self.packages[c.package]  # type: ignore[index]
            seat_subs = [sub for sub in contract.subscriptions if sub.seat_based]
            if len(seat_subs) != 1:
                self.fail(f"{path}.seats", "seats need exactly one seat-based subscription")
            if len(set(c.seats)) != len(c.seats):
                self.fail(f"{path}.seats", "a seat is listed twice")

    def cycles(self) -> None:
        """Refuse a parent chain that loops, naming the loop."""
        for i, c in enumerate(self.s.customers):
            chain = [c.id]
            node = c
            while node.parent is not None:
                if node.parent in chain:
                    loop = [*chain[chain.index(node.parent):], node.parent]
                    self.fail(f"$.customers[{i}].parent", f"cycle in parent: {' -> '.join(loop)}")
                chain.append(node.parent)
                node = self.customers[node.parent]

    def entry(self, i: int) -> None:
        """A timeline entry: in the window, after its customer's start, known references."""
        e = self.s.timeline[i]
        path = f"$.timeline[{i}]"
        if not self.s.start <= e.at < self.s.end:
            self.fail(f"{path}.at", f"{format_at(e.at)} lies outside the simulation window")
        for name in ("usage", "add_seats", "remove_seats", "set_quantity", "buy_credits",
                     "change_package", "migrate_package", "set_parent"):
            cmd = getattr(e, name)
            if cmd is not None:
                self.ref(cmd.customer, self.customers, f"{path}.{name}.customer", "customer")
                begins = self.customers[cmd.customer].start or self.s.start
                if e.at < begins:
                    self.fail(f"{path}.{name}", f"{name} at {format_at(e.at)}: customer {cmd.customer!r} "
                                                f"starts at {format_at(begins)}")
        if e.buy_credits is not None and e.buy_credits.credit_type is not None:
            self.ref(e.buy_credits.credit_type, self.units, f"{path}.buy_credits.credit_type",
                     "credit type")
        if e.buy_credits is not None:
            for k, prod in enumerate(e.buy_credits.products or []):
                self.ref(prod, self.products, f"{path}.buy_credits.products[{k}]", "product")
        for name in ("change_package", "migrate_package"):
            cmd = getattr(e, name)
            if cmd is not None:
                self.ref(cmd.to, self.packages, f"{path}.{name}.to", "package")
        if e.update_rate is not None:
            u = e.update_rate
            self.ref(u.rate_card, self.cards, f"{path}.update_rate.rate_card", "rate card")
            self.rate(Rate(product=u.product, price=u.price, tiers=u.tiers,
                           credit_type=u.credit_type), f"{path}.update_rate")
        if e.update_package is not None:
            self.ref(e.update_package.package, self.packages, f"{path}.update_package.package", "package")
            self.contract(e.update_package, f"{path}.update_package")
        if e.set_parent is not None and e.set_parent.parent is not None:
            self.ref(e.set_parent.parent, self.customers, f"{path}.set_parent.parent", "customer")

    def generator(self, i: int) -> None:
        """A usage source: one of generator/csv, known customers."""
        g = self.s.usage[i]
        path = f"$.usage[{i}]"
        if (g.generator is None) == (g.csv is None):
            self.fail(path, "give exactly one of generator or csv")
        for k, cid in enumerate(g.customers or []):
            self.ref(cid, self.customers, f"{path}.customers[{k}]", "customer")
        if g.generator is not None and not g.event_type:
            self.fail(f"{path}.event_type", "a generator needs an event_type")

    def expect(self) -> None:
        """Expectations name known customers and units."""
        x = self.s.expect
        assert x is not None
        for kind in ("invoices", "balances", "denied", "breakage", "rollup"):
            for k, item in enumerate(getattr(x, kind)):
                self.ref(item.customer, self.customers, f"$.expect.{kind}[{k}].customer", "customer")
                ct = getattr(item, "credit_type", None)
                if ct is not None:
                    self.ref(ct, self.units, f"$.expect.{kind}[{k}].credit_type", "credit type")


def validate(scenario: Scenario, file: str) -> None:
    """Raise ScenarioError for the first broken reference or inconsistent value."""
    _Checker(scenario, file).run()
