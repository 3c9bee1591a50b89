"""Cross-reference and consistency checks of a decoded scenario, each naming file and path.

The limits and refusals chosen where the rulebook is silent are listed in docs/semantics.md,
"Input limits and refusals"; each is written once here, as a small helper."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from meterbook.scenarios.created import created_at, declared_ids, is_declared_name, merged, unalias
from meterbook.scenarios.edits import edit_grant_ids, edit_recurring_ids, edit_references, edits_of
from meterbook.scenarios.errors import ScenarioError
from meterbook.scenarios.format import (
    NO_PRICE,
    Commit,
    Contract,
    Credit,
    Customer,
    Product,
    Rate,
    RecurringCredit,
    Scenario,
    Subscription,
)
from meterbook.scenarios.generators import (
    MAX_EVENTS_PER_DAY,
    check_spec,
    id_problem,
    quantities_in,
    quantity_metrics,
)
from meterbook.scenarios.live_time import MAX_GRACE_SECONDS, back_dated, grace_note, timestamp_problem
from meterbook.scenarios.types import format_at, months_later, quantity_value

# Bounds on magnitudes (docs/semantics.md, "Input limits and refusals").
MAX_WINDOW_MONTHS = 1200  # a simulation window of at most 100 years
MAX_MONTHS = 1200  # `months:` on a credit or commit
MAX_QUANTITY = 10**9  # subscription quantities
MAX_PRIORITY = 10**6  # |priority|
MAX_SEED = 2**63 - 1
CURRENCY_DECIMALS = 2


class _Checker:
    """Walks a scenario once, raising the first problem found."""

    def __init__(self, scenario: Scenario, file: str) -> None:
        self.s = scenario
        self.file = file
        self.products = {p.id: p for p in scenario.products}
        self.units = {scenario.currency} | {c.id for c in scenario.credit_types}
        self.decimals = {scenario.currency: CURRENCY_DECIMALS} | {c.id: c.decimals for c in scenario.credit_types}
        self.cards = {r.id for r in scenario.rate_cards}
        self.packages = {p.id: p for p in scenario.packages}
        self.customers = {c.id: c for c in scenario.customers}
        self.metrics = quantity_metrics(scenario)
        self.aliases: dict[str, str] = {}
        self.declared: dict[str, str] = {}  # input ids of the declared catalog (scenarios/created.py)

    # -- small rules, each written once -----------------------------------------------------

    def fail(self, path: str, reason: str) -> None:
        """Raise the error for `path` (as the file writes it: see scenarios/created.py)."""
        raise ScenarioError(self.file, unalias(path, self.aliases), reason)

    def ident(self, value: str, path: str) -> None:
        """An id (or seat name): not empty, no surrounding whitespace, no control characters."""
        problem = id_problem(value)
        if problem:
            self.fail(path, f"not a valid id: {problem}")

    def unique(self, ids: Iterable[str], path: str, kind: str) -> None:
        """Refuse a repeated or malformed id within one kind."""
        seen: set[str] = set()
        for i, ident in enumerate(ids):
            self.ident(ident, f"{path}[{i}].id")
            if ident in seen:
                self.fail(f"{path}[{i}].id", f"duplicate {kind} id {ident!r}")
            seen.add(ident)

    def ref(self, value: str, known: Iterable[str], path: str, kind: str) -> None:
        """Refuse a reference to an id that is not declared."""
        if value not in known:
            self.fail(path, f"unknown {kind} {value!r}")

    def between(self, value: int, lo: int, hi: int, path: str) -> None:
        """Refuse an integer outside [lo, hi] (absurd magnitudes break arithmetic downstream)."""
        if not lo <= value <= hi:
            self.fail(path, f"expected an integer from {lo} to {hi}, got {value}")

    def not_negative(self, amount: Decimal, path: str) -> None:
        """Refuse a negative amount."""
        if amount < 0:
            self.fail(path, f"must not be negative, got {amount}")

    def positive(self, amount: Decimal, path: str) -> None:
        """Refuse an amount that is zero or negative."""
        if amount <= 0:
            self.fail(path, f"must be greater than 0, got {amount}")

    def charge(self, amount: Decimal, unit: str, path: str) -> None:
        """A charge or grant: not negative, and no finer than its unit's display decimals (a
        rate may be finer; an amount billed or granted as such cannot be)."""
        self.not_negative(amount, path)
        places = self.decimals.get(unit, 0)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            self.fail(path, f"{amount} is finer than {unit}'s {places} decimals")

    def begins(self, cid: str) -> int:
        """The instant a customer starts (default: the scenario's start)."""
        c = self.customers[cid]
        return c.start if c.start is not None else self.s.start

    # -- the walk ---------------------------------------------------------------------------

    def run(self) -> None:
        """Check the whole scenario, in file order."""
        s = self.s
        if s.end <= s.start:
            self.fail("$.end", "must be after start")
        if s.end > months_later(s.start, MAX_WINDOW_MONTHS):
            self.fail("$.end", f"the simulation window is longer than {MAX_WINDOW_MONTHS // 12} years")
        self.between(s.seed, 0, MAX_SEED, "$.seed")
        self.between(s.grace_seconds, 0, MAX_GRACE_SECONDS, "$.grace_seconds")
        self.ident(s.currency, "$.currency")
        self.unique((c.id for c in s.credit_types), "$.credit_types", "credit type")
        for i, ct in enumerate(s.credit_types):
            if ct.id == s.currency:
                self.fail(f"$.credit_types[{i}].id", "a credit type cannot share the currency's id")
            if not 0 <= ct.decimals <= 6:
                self.fail(f"$.credit_types[{i}].decimals", "must be between 0 and 6")
            if ct.fiat_per_credit is not None:
                self.positive(ct.fiat_per_credit, f"$.credit_types[{i}].fiat_per_credit")
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
        self.purchase_ids()
        for i in range(len(s.usage)):
            self.generator(i)
        self.overage_prices()
        if s.expect is not None:
            self.expect()

    def product(self, p: Product, path: str) -> None:
        """A usage product needs a metric; a subscription has none."""
        if p.type == "usage":
            if p.metric is None:
                self.fail(f"{path}.metric", "a usage product needs a metric")
            elif p.metric.aggregation != "count" and not p.metric.property:
                self.fail(f"{path}.metric.property", f"{p.metric.aggregation} needs a property")
            else:
                self.ident(p.metric.event_type, f"{path}.metric.event_type")
        elif p.metric is not None:
            self.fail(f"{path}.metric", "a subscription product has no metric")

    def rate(self, rate: Rate, path: str) -> None:
        """A rate names a known product and unit, with one price form and ascending tiers."""
        self.ref(rate.product, self.products, f"{path}.product", "product")
        if (rate.price is None) == (rate.tiers is None):
            self.fail(path, "give exactly one of price or tiers")
        if rate.credit_type is not None:
            self.ref(rate.credit_type, self.units, f"{path}.credit_type", "credit type")
        if rate.price is not None:
            self.not_negative(rate.price, f"{path}.price")
        if rate.tiers is not None:
            self.tiers(rate, path)
        if self.products[rate.product].type == "subscription":
            if rate.tiers is not None:
                self.fail(f"{path}.tiers", "a subscription takes a flat price")
            if rate.credit_type not in (None, self.s.currency):
                self.fail(f"{path}.credit_type", f"a subscription is priced in the currency ({self.s.currency})")
            # A subscription price is charged as such: cents, not a rate (usage rates may be finer).
            assert rate.price is not None
            self.charge(rate.price, self.s.currency, f"{path}.price")

    def tiers(self, rate: Rate, path: str) -> None:
        """Graduated tiers: at least one, every bound but the last's, ascending, above 0."""
        assert rate.tiers is not None
        if not rate.tiers:
            self.fail(f"{path}.tiers", "needs at least one tier")
        last = None
        for k, tier in enumerate(rate.tiers):
            self.not_negative(tier.price, f"{path}.tiers[{k}].price")
            last_tier = k == len(rate.tiers) - 1
            if (tier.up_to is None) != last_tier:
                self.fail(f"{path}.tiers[{k}].up_to", "every tier but the last needs up_to")
            if tier.up_to is not None:
                self.positive(tier.up_to, f"{path}.tiers[{k}].up_to")
                if last is not None and tier.up_to <= last:
                    self.fail(f"{path}.tiers[{k}].up_to", "tiers must ascend")
                last = tier.up_to

    def grants(self, items: list[Credit] | list[Commit], path: str) -> None:
        """Credits or commits: known units, products and accounts; sane dates and amounts."""
        for k, g in enumerate(items):
            gp = f"{path}[{k}]"
            unit = g.credit_type or self.s.currency
            if g.credit_type is not None:
                self.ref(g.credit_type, self.units, f"{gp}.credit_type", "credit type")
            if g.id is not None:
                self.ident(g.id, f"{gp}.id")
            for m, prod in enumerate(g.products or []):
                self.ref(prod, self.products, f"{gp}.products[{m}]", "product")
            if isinstance(g.child_access, list):
                for m, cid in enumerate(g.child_access):
                    self.ref(cid, self.customers, f"{gp}.child_access[{m}]", "customer")
            self.charge(g.amount, unit, f"{gp}.amount")
            self.between(g.priority, -MAX_PRIORITY, MAX_PRIORITY, f"{gp}.priority")
            if g.start is not None and g.end is not None and g.end <= g.start:
                self.fail(f"{gp}.end", "must be after start")
            if g.months is not None and (g.end is not None or g.months < 1):
                self.fail(f"{gp}.months", "give months (at least 1) or end, not both")
            if g.months is not None:
                self.between(g.months, 1, MAX_MONTHS, f"{gp}.months")
            if isinstance(g, Commit):
                self.invoice(g, gp)

    def invoice(self, g: Commit, path: str) -> None:
        """A commit's invoice schedule: money amounts in cents, none dated after the commit ends."""
        end: int | None = g.end
        if end is None and g.months is not None and g.start is not None:
            end = months_later(g.start, g.months)
        for m, item in enumerate(g.invoice):
            self.charge(item.amount, self.s.currency, f"{path}.invoice[{m}].amount")
            if item.at is not None and end is not None and item.at > end:
                self.fail(f"{path}.invoice[{m}].at", f"{format_at(item.at)} is after the commit ends "
                                                     f"({format_at(end)})")

    def contract(self, c: Contract, path: str) -> None:
        """A contract or package: rate card, overrides, subscriptions, grants."""
        self.ref(c.rate_card, self.cards, f"{path}.rate_card", "rate card")
        for k, rate in enumerate(c.overrides):
            self.rate(rate, f"{path}.overrides[{k}]")
        subs: dict[str, Subscription] = {}
        for k, sub in enumerate(c.subscriptions):
            sp = f"{path}.subscriptions[{k}]"
            self.ident(sub.id, f"{sp}.id")
            if sub.id in subs:
                self.fail(f"{sp}.id", f"duplicate subscription id {sub.id!r}")
            subs[sub.id] = sub
            self.subscription(sub, sp)
        self.grants(c.credits, f"{path}.credits")
        self.grants(c.commits, f"{path}.commits")
        self.grant_ids(c, path)
        self.recurring(c.recurring_credits, subs, f"{path}.recurring_credits")

    def subscription(self, sub: Subscription, sp: str) -> None:
        """A subscription names a subscription product; a quantity only without seats."""
        self.ref(sub.product, self.products, f"{sp}.product", "product")
        if self.products[sub.product].type != "subscription":
            self.fail(f"{sp}.product", f"{sub.product!r} is not a subscription product")
        if sub.seat_based and sub.quantity is not None:
            self.fail(f"{sp}.quantity", "a seat-based subscription counts its seats")
        if sub.quantity is not None:
            self.between(sub.quantity, 0, MAX_QUANTITY, f"{sp}.quantity")

    def recurring(self, items: list[RecurringCredit], subs: dict[str, Subscription], path: str) -> None:
        """Recurring credits: known units and products; a per-seat one follows a seat-based
        subscription among `subs`."""
        for k, rc in enumerate(items):
            rp = f"{path}[{k}]"
            if rc.id is not None:
                self.ident(rc.id, f"{rp}.id")
            if rc.credit_type is not None:
                self.ref(rc.credit_type, self.units, f"{rp}.credit_type", "credit type")
            self.charge(rc.amount, rc.credit_type or self.s.currency, f"{rp}.amount")
            self.between(rc.priority, -MAX_PRIORITY, MAX_PRIORITY, f"{rp}.priority")
            self.ident(rc.seat_key, f"{rp}.seat_key")
            for m, prod in enumerate(rc.products or []):
                self.ref(prod, self.products, f"{rp}.products[{m}]", "product")
            if rc.per_seat_of is not None:
                linked = subs.get(rc.per_seat_of)
                if linked is None:
                    self.fail(f"{rp}.per_seat_of", f"unknown subscription {rc.per_seat_of!r}")
                elif not linked.seat_based:
                    self.fail(
                        f"{rp}.per_seat_of",
                        f"subscription {rc.per_seat_of!r} is not seat-based (seat_based: true)",
                    )
            elif rc.allocation == "individual":
                self.fail(f"{rp}.allocation", "individual allocation needs per_seat_of")
            if rc.rollover is not None and not 0 <= rc.rollover <= 1:
                self.fail(f"{rp}.rollover", "must be a fraction between 0 and 1")

    def grant_ids(self, c: Contract, path: str) -> None:
        """One contract's credits and commits have distinct grant ids (given or by position)."""
        seen: dict[str, str] = {}
        for gid, gp in contract_grant_ids(c, path):
            if gid in seen:
                self.fail(f"{gp}.id", f"grant id {gid!r} is also the id of {seen[gid]}")
            seen[gid] = gp

    def customer(self, i: int) -> None:
        """A customer: one of package/contract, parent, start, seats, grant dates."""
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
            if c.payer == "parent" and self.begins(c.id) < self.begins(c.parent):
                self.fail(f"{path}.start", f"a child paid by its parent cannot start before {c.parent!r}")
        elif c.payer == "parent":
            self.fail(f"{path}.payer", "payer: parent needs a parent")
        if c.start is not None and not self.s.start <= c.start < self.s.end:
            self.fail(f"{path}.start", "must lie inside the simulation window")
        for k, seat in enumerate(c.seats):
            self.ident(seat, f"{path}.seats[{k}]")
            if seat in c.seats[:k]:
                self.fail(f"{path}.seats[{k}]", f"seat {seat!r} is listed twice")
        if c.seats:
            contract = c.contract or self.packages[c.package]  # type: ignore[index]
            seat_subs = [sub for sub in contract.subscriptions if sub.seat_based]
            if len(seat_subs) != 1:
                self.fail(f"{path}.seats", "seats need exactly one seat-based subscription")
        self.grant_dates(c, path)

    def grant_dates(self, c: Customer, path: str) -> None:
        """The customer's own contract grants must not end before the customer starts (they
        could never pay for anything)."""
        contract, cpath = self.contract_of(c, path)
        begins = self.begins(c.id)
        for kind in ("credits", "commits"):
            for k, g in enumerate(getattr(contract, kind)):
                if g.end is not None and g.end <= begins:
                    self.fail(f"{cpath}.{kind}[{k}].end", f"{format_at(g.end)} is not after customer {c.id!r} "
                                                          f"starts ({format_at(begins)})")

    def contract_of(self, c: Customer, path: str) -> tuple[Contract, str]:
        """A customer's initial contract and its path (a package's, for a package)."""
        if c.contract is not None:
            return c.contract, f"{path}.contract"
        index = next(k for k, p in enumerate(self.s.packages) if p.id == c.package)
        return self.s.packages[index], f"$.packages[{index}]"

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
        if e.id is not None:
            # A create command written back from a journal is named `<kind>:<its id>`, a few
            # characters past the id length limit if its id is at it: the id itself is checked.
            self.ident(e.id if not is_declared_name(e) else e.id.partition(":")[2], f"{path}.id")
            named = re.fullmatch(r"timeline-(\d+)", e.id)
            if named and int(named[1]) < len(self.s.timeline) and self.s.timeline[int(named[1])].id is None \
                    and self.s.timeline[int(named[1])].usage is None:
                # A command without an id is named by its place: an explicit id must not take that name.
                self.fail(f"{path}.id", f"{e.id!r} is the name of $.timeline[{named[1]}], which has no id of its own")
            if e.id in self.declared:
                # The declared catalog is journaled under these ids: this command would be a duplicate of it.
                self.fail(f"{path}.id", f"{e.id!r} is the input id of the declared catalog entry {self.declared[e.id]}")
        for name in ("usage", "add_seats", "remove_seats", "set_quantity", "buy_credits",
                     "change_package", "migrate_package", "set_parent", "edit_contract"):
            cmd = getattr(e, name)
            if cmd is not None:
                self.ref(cmd.customer, self.customers, f"{path}.{name}.customer", "customer")
                begins = self.begins(cmd.customer)
                if e.at < begins:
                    self.fail(f"{path}.{name}", f"{name} at {format_at(e.at)}: customer {cmd.customer!r} "
                                                f"starts at {format_at(begins)}")
        if e.usage is not None:
            self.usage(e.usage.id, e.usage.event_type, e.usage.properties, f"{path}.usage")
            if e.usage.timestamp is not None:
                self.timestamp(e.usage.timestamp, e.at, e.usage.customer, f"{path}.usage.timestamp")
        for name in ("add_seats", "remove_seats"):
            change = getattr(e, name)
            if change is not None:
                self.seat_list(change.seats, f"{path}.{name}.seats")
        if e.set_quantity is not None:
            self.between(e.set_quantity.quantity, 0, MAX_QUANTITY, f"{path}.set_quantity.quantity")
        if e.buy_credits is not None:
            self.purchase(i)
        for name in ("change_package", "migrate_package"):
            cmd = getattr(e, name)
            if cmd is not None:
                self.ref(cmd.to, self.packages, f"{path}.{name}.to", "package")
        for name in ("update_rate", "add_rate"):
            u = getattr(e, name)
            if u is not None:
                self.ref(u.rate_card, self.cards, f"{path}.{name}.rate_card", "rate card")
                self.rate(Rate(product=u.product, price=u.price, tiers=u.tiers,
                               credit_type=u.credit_type), f"{path}.{name}")
        if e.update_package is not None:
            self.ref(e.update_package.package, self.packages, f"{path}.update_package.package", "package")
            self.contract(e.update_package, f"{path}.update_package")
        if e.set_parent is not None and e.set_parent.parent is not None:
            self.ref(e.set_parent.parent, self.customers, f"{path}.set_parent.parent", "customer")
        if e.edit_contract is not None:
            self.edit_contract(i)

    def edit_contract(self, i: int) -> None:
        """Additions to a customer's contract: each checked as in a contract; nothing dated
        before the entry's `at` by more than the grace; subscription and recurring ids new to
        the customer (grant ids: `purchase_ids`)."""
        e = self.s.timeline[i]
        edit = e.edit_contract
        assert edit is not None
        path = f"$.timeline[{i}].edit_contract"
        for kind in ("add_credits", "add_commits"):
            items = getattr(edit, kind)
            self.grants(items, f"{path}.{kind}")
            for k, g in enumerate(items):
                gp = f"{path}.{kind}[{k}]"
                self.not_before(g.start, e.at, f"{gp}.start")
                if g.start is None and g.end is not None and g.end <= e.at:
                    self.fail(f"{gp}.end", f"{format_at(g.end)} is not after the grant starts, at the entry's at "
                                           f"({format_at(e.at)})")
                for m, item in enumerate(g.invoice if isinstance(g, Commit) else []):
                    self.not_before(item.at, e.at, f"{gp}.invoice[{m}].at")
        subs, recurring = self.contract_parts_before(edit.customer, i)
        for k, sub in enumerate(edit.add_subscriptions):
            sp = f"{path}.add_subscriptions[{k}]"
            self.ident(sub.id, f"{sp}.id")
            if sub.id in subs:
                self.fail(f"{sp}.id", f"customer {edit.customer!r} already has a subscription {sub.id!r}")
            subs[sub.id] = sub
            self.subscription(sub, sp)
        self.recurring(edit.add_recurring_credits, subs, f"{path}.add_recurring_credits")
        for k, rid in enumerate(edit_recurring_ids(e, i)):
            if rid in recurring:
                self.fail(f"{path}.add_recurring_credits[{k}].id",
                          f"customer {edit.customer!r} already has a recurring credit {rid!r}")
            recurring.add(rid)
        for k, rate in enumerate(edit.add_overrides):
            self.rate(rate, f"{path}.add_overrides[{k}]")
            self.not_before(rate.starting_at, e.at, f"{path}.add_overrides[{k}].starting_at")

    def not_before(self, at: int | None, entry_at: int, path: str) -> None:
        """An instant an edit gives must not precede the entry's `at` by more than the grace
        (SCENARIOS.md: with the file default of 0, not at all)."""
        if at is not None and back_dated(at, entry_at, self.s.grace_seconds) == "grace":
            self.fail(path, f"{format_at(at)} is before the entry's at ({format_at(entry_at)}){grace_note(self.s.grace_seconds)}")

    def contract_parts_before(self, cid: str, index: int) -> tuple[dict[str, Subscription], set[str]]:
        """The subscriptions (by id) and recurring credit ids a customer may have when the edit
        at `$.timeline[index]` applies: those of every contract it may hold over the run, and
        those its edits applying before this one added."""
        subs: dict[str, Subscription] = {}
        recurring: set[str] = set()
        for contract, _ in self.contracts_of(cid):
            subs.update((sub.id, sub) for sub in contract.subscriptions)
            recurring.update(rc.id or f"recurring-{k}" for k, rc in enumerate(contract.recurring_credits))
        for j, edit in edits_of(self.s, cid):
            if j == index:
                break
            subs.update((sub.id, sub) for sub in edit.add_subscriptions)
            recurring.update(edit_recurring_ids(self.s.timeline[j], j))
        return subs, recurring

    def creation_order(self, exists: dict[tuple[str, str], int]) -> None:
        """Nothing is used before it is created: a customer's package, parent and rate card,
        a rate card's products and units, a package's rate card, a timeline command's
        references; and a created customer starts no earlier than its create command."""
        s = self.s

        def by(section: str, ident: str, at: int, path: str, kind: str) -> None:
            when = exists.get((section, ident), s.start)
            if when > at:
                self.fail(path, f"{kind} {ident!r} is created later, at {format_at(when)}")

        for i, card in enumerate(s.rate_cards):
            at = exists[("rate_cards", card.id)]
            for j, rate in enumerate(card.rates):
                self.uses_rate(rate.product, rate.credit_type, at, f"$.rate_cards[{i}].rates[{j}]", by)
        for i, pkg in enumerate(s.packages):
            by("rate_cards", pkg.rate_card, exists[("packages", pkg.id)], f"$.packages[{i}].rate_card", "rate card")
        for i, c in enumerate(s.customers):
            at = exists[("customers", c.id)]
            path = f"$.customers[{i}]"
            early = back_dated(self.begins(c.id), at, self.s.grace_seconds)
            if early == "grace":
                self.fail(f"{path}.start", f"{format_at(self.begins(c.id))} is before the customer is created, "
                                           f"at {format_at(at)}{grace_note(self.s.grace_seconds)}")
            elif early == "month":
                self.fail(f"{path}.start", f"{format_at(self.begins(c.id))} lies in a month that ended before the "
                                           f"customer is created, at {format_at(at)}")
            if c.package is not None:
                by("packages", c.package, at, f"{path}.package", "package")
            if c.contract is not None:
                by("rate_cards", c.contract.rate_card, at, f"{path}.contract.rate_card", "rate card")
            if c.parent is not None:
                by("customers", c.parent, at, f"{path}.parent", "customer")
        for i, e in enumerate(s.timeline):
            for name in ("update_rate", "add_rate"):
                u = getattr(e, name)
                if u is not None:
                    by("rate_cards", u.rate_card, e.at, f"$.timeline[{i}].{name}.rate_card", "rate card")
                    self.uses_rate(u.product, u.credit_type, e.at, f"$.timeline[{i}].{name}", by)
            for name in ("change_package", "migrate_package"):
                cmd = getattr(e, name)
                if cmd is not None:
                    by("packages", cmd.to, e.at, f"$.timeline[{i}].{name}.to", "package")
            if e.edit_contract is not None:
                path = f"$.timeline[{i}].edit_contract"
                by("customers", e.edit_contract.customer, e.at, f"{path}.customer", "customer")
                for section, ident, where, kind in edit_references(e.edit_contract):
                    if ident != s.currency:
                        by(section, ident, e.at, f"{path}.{where}", kind)

    def uses_rate(self, product: str, credit_type: str | None, at: int, path: str, by: Any) -> None:
        """A rate's product and credit type exist by `at`."""
        by("products", product, at, f"{path}.product", "product")
        if credit_type is not None and credit_type != self.s.currency:
            by("credit_types", credit_type, at, f"{path}.credit_type", "credit type")

    def usage(self, uid: str, event_type: str, props: dict[str, Any], path: str) -> None:
        """A usage event: a valid id, and every property a metric reads is a finite number >= 0."""
        self.ident(uid, f"{path}.id")
        self.ident(event_type, f"{path}.event_type")
        for prop in quantities_in(self.metrics.get(event_type, []), props):
            try:
                quantity_value(props[prop])
            except ValueError as exc:
                self.fail(f"{path}.properties.{prop}", str(exc))

    def timestamp(self, stamp: int, at: int, cid: str, path: str) -> None:
        """A usage timestamp: inside the window, not before its customer starts, and within
        what live time allows around its arrival `at` (scenarios/live_time.py)."""
        if not self.s.start <= stamp < self.s.end:
            self.fail(path, f"{format_at(stamp)} lies outside the simulation window")
        begins = self.begins(cid)
        if stamp < begins:
            self.fail(path, f"{format_at(stamp)} is before customer {cid!r} starts ({format_at(begins)})")
        problem = timestamp_problem(stamp, at, self.s.grace_seconds)
        if problem:
            self.fail(path, problem)

    def seat_list(self, seats: list[str], path: str) -> None:
        """The seats of one add_seats or remove_seats: valid, each once."""
        if not seats:
            self.fail(path, "needs at least one seat")
        for k, seat in enumerate(seats):
            self.ident(seat, f"{path}[{k}]")
            if seat in seats[:k]:
                self.fail(f"{path}[{k}]", f"seat {seat!r} is listed twice")

    def purchase(self, i: int) -> None:
        """A credit purchase: known unit and products, amounts in their units' decimals, and
        an expiry after the purchase."""
        e = self.s.timeline[i]
        b = e.buy_credits
        assert b is not None
        path = f"$.timeline[{i}].buy_credits"
        unit = b.credit_type or self.s.currency
        if b.credit_type is not None:
            self.ref(b.credit_type, self.units, f"{path}.credit_type", "credit type")
        if b.id is not None:
            self.ident(b.id, f"{path}.id")
        for k, prod in enumerate(b.products or []):
            self.ref(prod, self.products, f"{path}.products[{k}]", "product")
        self.charge(b.amount, unit, f"{path}.amount")
        self.charge(b.price, self.s.currency, f"{path}.price")
        self.between(b.priority, -MAX_PRIORITY, MAX_PRIORITY, f"{path}.priority")
        if b.end is not None and b.end <= e.at:
            self.fail(f"{path}.end", f"{format_at(b.end)} is not after the purchase ({format_at(e.at)})")

    def purchase_ids(self) -> None:
        """A purchase's grant id is not the id of another grant of the same customer (its
        contract's credits and commits, or another purchase); a grant edit_contract adds is
        new too: to every contract the customer may hold, its purchases and other additions."""
        taken: dict[str, dict[str, str]] = {}
        for k, c in enumerate(self.s.customers):
            contract, cpath = self.contract_of(c, f"$.customers[{k}]")
            taken[c.id] = dict(contract_grant_ids(contract, cpath))
        for i, e in enumerate(self.s.timeline):
            b = e.buy_credits
            if b is not None:
                self.new_grant_id(taken[b.customer], purchase_id(b.id, i), f"$.timeline[{i}].buy_credits",
                                  b.customer)
            if e.edit_contract is not None:
                cid = e.edit_contract.customer
                mine = taken[cid]
                for contract, cpath in self.contracts_of(cid):
                    for gid, gp in contract_grant_ids(contract, cpath):
                        mine.setdefault(gid, gp)
                for gid, gp in edit_grant_ids(e, i):
                    self.new_grant_id(mine, gid, gp, cid)

    def new_grant_id(self, mine: dict[str, str], gid: str, path: str, cid: str) -> None:
        """Refuse a grant id the customer's grants in `mine` (id: path) already have; else add it."""
        if gid in mine:
            self.fail(f"{path}.id", f"grant id {gid!r} is also the id of {unalias(mine[gid], self.aliases)} "
                                    f"of customer {cid!r}")
        mine[gid] = path

    def generator(self, i: int) -> None:
        """A usage source: one of generator/csv, known customers, parameters that can run."""
        g = self.s.usage[i]
        path = f"$.usage[{i}]"
        if (g.generator is None) == (g.csv is None):
            self.fail(path, "give exactly one of generator or csv")
        if g.csv is not None:
            if not g.csv.strip():
                self.fail(f"{path}.csv", "must name a file")
            for name in ("customers", "event_type", "start", "end"):
                if getattr(g, name) is not None:
                    self.fail(f"{path}.{name}", "only a generator takes this (a CSV row names its own)")
            if g.properties:
                self.fail(f"{path}.properties", "only a generator takes this (a CSV row names its own)")
            return
        for k, cid in enumerate(g.customers or []):
            self.ref(cid, self.customers, f"{path}.customers[{k}]", "customer")
        if not g.event_type:
            self.fail(f"{path}.event_type", "a generator needs an event_type")
        assert g.event_type is not None
        self.ident(g.event_type, f"{path}.event_type")
        self.ident(g.seat_key, f"{path}.seat_key")
        self.between(g.events_per_day, 1, MAX_EVENTS_PER_DAY, f"{path}.events_per_day")
        start = g.start if g.start is not None else self.s.start
        end = g.end if g.end is not None else self.s.end
        for name, at in (("start", g.start), ("end", g.end)):
            if at is not None and not self.s.start <= at <= self.s.end:
                self.fail(f"{path}.{name}", f"{format_at(at)} lies outside the simulation window")
        if end <= start:
            self.fail(f"{path}.end", "must be after start")
        quantities = {m.property for m in self.metrics.get(g.event_type, [])}
        for name, spec in g.properties.items():
            problem = check_spec(spec, f"{path}.properties.{name}", name in quantities)
            if problem:
                where, _, reason = problem.partition(": ")
                self.fail(f"{path}.properties.{name}{where}", reason)

    def overage_prices(self) -> None:
        """Rule 5 bills credit overage at fiat_per_credit: a credit type that prices usage on a
        contract with `on_exhausted: bill` needs one (else the run fails on some event later)."""
        for unit, product, where in self.billed_credit_rates():
            index = next((k for k, ct in enumerate(self.s.credit_types) if ct.id == unit), None)
            if index is None or self.s.credit_types[index].fiat_per_credit is not None:
                continue
            self.fail(f"$.credit_types[{index}].fiat_per_credit",
                      f"needed: product {product!r} is priced in {unit!r} on {where}, which has "
                      f"on_exhausted: bill, so overage in {unit!r} is billed in {self.s.currency} at this "
                      f"rate (or set on_exhausted: block there)")

    def billed_credit_rates(self) -> Iterator[tuple[str, str, str]]:
        """(credit type, usage product, contract path) for each usage rate priced in a credit
        type that a contract billing its overage (`on_exhausted: bill`) may use."""
        card_rates: dict[str, list[Rate]] = {}
        for card in self.s.rate_cards:
            card_rates.setdefault(card.id, []).extend(card.rates)
        for e in self.s.timeline:
            u = e.update_rate
            if u is not None:
                card_rates.setdefault(u.rate_card, []).append(
                    Rate(product=u.product, price=u.price, tiers=u.tiers, credit_type=u.credit_type))
        for contract, where in self.contracts():
            if contract.on_exhausted != "bill":
                continue
            for rate in [*card_rates.get(contract.rate_card, []), *contract.overrides]:
                if rate.credit_type not in (None, self.s.currency) and self.products[rate.product].type == "usage":
                    yield rate.credit_type, rate.product, where
        for i, e in enumerate(self.s.timeline):  # overrides an edit adds to a contract that bills
            edit = e.edit_contract
            if edit is None or all(c.on_exhausted != "bill" for c, _ in self.contracts_of(edit.customer)):
                continue
            for rate in edit.add_overrides:
                if rate.credit_type not in (None, self.s.currency) and self.products[rate.product].type == "usage":
                    yield rate.credit_type, rate.product, f"$.timeline[{i}].edit_contract"

    def contracts(self) -> Iterator[tuple[Contract, str]]:
        """Every contract of the file with its path: packages, their updates, customers' own."""
        for k, pkg in enumerate(self.s.packages):
            yield pkg, f"$.packages[{k}]"
        for k, c in enumerate(self.s.customers):
            if c.contract is not None:
                yield c.contract, f"$.customers[{k}].contract"
        for k, e in enumerate(self.s.timeline):
            if e.update_package is not None:
                yield e.update_package, f"$.timeline[{k}].update_package"

    def expect(self) -> None:
        """Expectations name known customers, units, seats and (where knowable) grants."""
        x = self.s.expect
        assert x is not None
        for kind in ("invoices", "balances", "denied", "breakage", "rollup"):
            for k, item in enumerate(getattr(x, kind)):
                self.ref(item.customer, self.customers, f"$.expect.{kind}[{k}].customer", "customer")
                ct = getattr(item, "credit_type", None)
                if ct is not None:
                    self.ref(ct, self.units, f"$.expect.{kind}[{k}].credit_type", "credit type")
        for k, d in enumerate(x.denied):
            self.between(d.count, 0, 2**63 - 1, f"$.expect.denied[{k}].count")
        for k, b in enumerate(x.balances):
            path = f"$.expect.balances[{k}]"
            if b.seat is not None and b.seat not in self.seats_ever(b.customer):
                self.fail(f"{path}.seat", f"customer {b.customer!r} never has a seat {b.seat!r}")
            if b.grant is not None and not self.known_grant(b.customer, b.grant):
                self.fail(f"{path}.grant", f"customer {b.customer!r} has no grant {b.grant!r}")

    def seats_ever(self, cid: str) -> set[str]:
        """Every seat a customer is ever given: its `seats:` and the timeline's add_seats."""
        seats = set(self.customers[cid].seats)
        for e in self.s.timeline:
            if e.add_seats is not None and e.add_seats.customer == cid:
                seats.update(e.add_seats.seats)
        return seats

    def known_grant(self, cid: str, grant: str) -> bool:
        """Whether `grant` can be one of the customer's own grant ids (docs/semantics.md, "Grant
        ids"): a credit or commit of any contract it may have, a purchase, or a recurring
        credit's generated id (checked by its first segment only: the rest depends on dates)."""
        own: set[str] = set()
        recurring: set[str] = set()
        for contract, _ in self.contracts_of(cid):
            own.update(gid for gid, _ in contract_grant_ids(contract, ""))
            recurring.update(rc.id or f"recurring-{k}" for k, rc in enumerate(contract.recurring_credits))
        for i, e in enumerate(self.s.timeline):
            if e.buy_credits is not None and e.buy_credits.customer == cid:
                own.add(purchase_id(e.buy_credits.id, i))
            if e.edit_contract is not None and e.edit_contract.customer == cid:
                own.update(gid for gid, _ in edit_grant_ids(e, i))
                recurring.update(edit_recurring_ids(e, i))
        return grant in own or ("/" in grant and grant.split("/", 1)[0] in recurring)

    def contracts_of(self, cid: str) -> list[tuple[Contract, str]]:
        """Every contract a customer may hold over the run, with its path: its own or its
        package, packages it changes to, and every update of those packages (file order)."""
        c = self.customers[cid]
        names = {c.package} if c.package is not None else set()
        for e in self.s.timeline:
            for cmd in (e.change_package, e.migrate_package):
                if cmd is not None and cmd.customer == cid:
                    names.add(cmd.to)
        found: list[tuple[Contract, str]] = []
        if c.contract is not None:
            k = next(k for k, other in enumerate(self.s.customers) if other.id == cid)
            found.append((c.contract, f"$.customers[{k}].contract"))
        found += [(p, f"$.packages[{k}]") for k, p in enumerate(self.s.packages) if p.id in names]
        found += [(e.update_package, f"$.timeline[{k}].update_package") for k, e in enumerate(self.s.timeline)
                  if e.update_package is not None and e.update_package.package in names]
        return found


def contract_grant_ids(c: Contract, path: str) -> list[tuple[str, str]]:
    """(grant id, path) of a contract's credits and commits: `id:`, else `credit-N`/`commit-N`."""
    out = [(g.id or f"credit-{k}", f"{path}.credits[{k}]") for k, g in enumerate(c.credits)]
    out += [(g.id or f"commit-{k}", f"{path}.commits[{k}]") for k, g in enumerate(c.commits)]
    return out


def purchase_id(given: str | None, index: int) -> str:
    """A purchase's grant id: its `id:`, else `purchase-N` with N its timeline index."""
    return given if given is not None else f"purchase-{index}"


def validate(scenario: Scenario, file: str) -> None:
    """Raise ScenarioError for the first broken reference or inconsistent value. Entries
    created in the timeline are checked as the declared entries they are (a merged view),
    then for what creation adds: nothing is used before it exists."""
    view, aliases = merged(scenario)
    checker = _Checker(view, file)
    checker.aliases = aliases
    checker.declared = declared_ids(scenario)
    checker.run()
    checker.creation_order(created_at(scenario))


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Defaults that are legal but may cost money, one readable line each with its path:
    credits bought without a price (free), and a seat-based subscription on a customer that
    starts with no seats (it pays nothing until seats are added)."""
    warnings: list[str] = []
    for i, e in enumerate(scenario.timeline):
        if e.buy_credits is not None and e.buy_credits.price is NO_PRICE:
            warnings.append(f"$.timeline[{i}].buy_credits.price: no price given, so these credits are free "
                            f'(write price: "0" to say so)')
    packages = {p.id: p for p in scenario.packages}
    for i, c in enumerate(scenario.customers):
        contract = c.contract if c.contract is not None else packages.get(c.package or "")
        if contract is None or c.seats:
            continue
        for sub in contract.subscriptions:
            if sub.seat_based:
                warnings.append(f"$.customers[{i}].seats: subscription {sub.id!r} is seat-based but no seats are "
                                "given, so it charges nothing until seats are added")
    return warnings
