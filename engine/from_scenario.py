"""The one place a scenario file becomes engine terms: the stream of inputs (the declared
catalog and customers as create inputs at the start, timeline entries, generated and CSV usage)
in order.

Converting prices and grants needs the units (a price's ledger scale), so conversion reads a
catalog of its own, built from the file (`build_catalog`); the runtime starts from the currency
alone and builds its catalog from the create inputs it is given (DESIGN.md: the journal is a
scenario, catalog included)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from meterbook.actors import Catalog, RecurringSpec, Unit
from meterbook.actors.catalog import (
    FOREVER,
    ContractTerms,
    GrantTemplate,
    Metric,
    Price,
    Product,
    RateCard,
    SubscriptionSpec,
    currency_unit,
    make_price,
)
from meterbook.engine import inputs as ins
from meterbook.scenarios import format as fmt
from meterbook.scenarios.created import declared_id
from meterbook.scenarios.edits import edit_grant_id
from meterbook.scenarios.generators import generated_entries

# The rulebook's name for each kind of input, for messages.
KIND = {
    ins.CreateCustomer: "customer", ins.RecordUsage: "usage", ins.AddSeats: "add_seats",
    ins.RemoveSeats: "remove_seats", ins.SetQuantity: "set_quantity", ins.BuyCredits: "buy_credits",
    ins.ChangePackage: "change_package", ins.SetParent: "set_parent", ins.UpdateRate: "update_rate",
    ins.UpdatePackage: "update_package", ins.CreateCreditType: "create_credit_type",
    ins.CreateProduct: "create_product", ins.CreateRateCard: "create_rate_card", ins.CreatePackage: "create_package",
    ins.EditContract: "edit_contract",
}


def kind_of(item: ins.Input) -> str:
    """The rulebook's name of an input's kind (migrate_package is a change_package)."""
    if isinstance(item, ins.ChangePackage) and item.migrate:
        return "migrate_package"
    if isinstance(item, ins.CreateCustomer) and item.source.startswith("$.timeline"):
        return "create_customer"
    return KIND[type(item)]


def currency_of(s: fmt.Scenario) -> Unit:
    """The scenario's currency (two decimals, as the rulebook fixes)."""
    return currency_unit(s.currency)


def empty_catalog(s: fmt.Scenario) -> Catalog:
    """What a runtime starts from: the currency and nothing else."""
    return Catalog.of_currency(s.currency)


def build_catalog(s: fmt.Scenario, *, with_created: bool = False) -> Catalog:
    """The conversion catalog: units, products and rate cards (with their effective-dated
    rates) declared by a scenario; `with_created` adds the credit types its timeline creates
    (what converting the timeline's prices needs: a created rate may be priced in a created
    credit type). Never the runtime's: that one is built by create inputs."""
    currency = currency_of(s)
    units = {s.currency: currency}
    created = [e.create_credit_type for e in s.timeline if e.create_credit_type is not None] if with_created else []
    for ct in [*s.credit_types, *created]:
        units[ct.id] = unit_of(ct)
    catalog = Catalog(currency, units, {p.id: product_of(p) for p in s.products})
    for card in s.rate_cards:
        rc = RateCard(card.id)
        for rate in rates_of(catalog, card):
            rc.set(rate.product, rate.starting_at, rate.price)
        catalog.rate_cards[card.id] = rc
    return catalog


def unit_of(ct: fmt.CreditType) -> Unit:
    """A credit type of the file as a domain unit."""
    return Unit(id=ct.id, decimals=ct.decimals, is_currency=False,
                fiat_per_credit=Decimal(ct.fiat_per_credit) if ct.fiat_per_credit is not None else None)


def product_of(p: fmt.Product) -> Product:
    """A product of the file as a domain product (filters as sorted, frozen sets)."""
    metric = None
    if p.metric is not None:
        filters = tuple(sorted((k, frozenset(str(v) for v in vals)) for k, vals in p.metric.filters.items()))
        metric = Metric(p.metric.event_type, p.metric.aggregation, p.metric.property, filters)
    return Product(id=p.id, name=p.name or p.id, kind=p.type, metric=metric)


def rates_of(catalog: Catalog, card: fmt.RateCard) -> tuple[ins.RateTerms, ...]:
    """A rate card's rates in domain terms (no `starting_at`: from always)."""
    return tuple(ins.RateTerms(rate.product, rate.starting_at if rate.starting_at is not None else -FOREVER,
                               price_of(catalog, rate.credit_type, rate.price, rate.tiers))
                 for rate in card.rates)


def price_of(catalog: Catalog, credit_type: str | None, price: Decimal | None,
             tiers: list[fmt.Tier] | None) -> Price:
    """A domain Price from a rate's fields (`credit_type` absent: the currency)."""
    unit = catalog.units[credit_type or catalog.currency.id]
    flat = Decimal(price) if price is not None else None
    tier_tuple = None
    if tiers is not None:
        tier_tuple = tuple((Decimal(t.up_to) if t.up_to is not None else None, Decimal(t.price)) for t in tiers)
    return make_price(unit, flat, tier_tuple)


def template_of(g: fmt.Credit, gid: str, currency: str) -> GrantTemplate:
    """A credit or commit (of a contract, or added by edit_contract); `gid` is its id when it
    gives none."""
    commit = g if isinstance(g, fmt.Commit) else None
    return GrantTemplate(
        id=g.id or gid, kind="commit" if commit is not None else "credit",
        commit_type=commit.type if commit is not None else None, unit=g.credit_type or currency,
        amount=Decimal(g.amount), priority=g.priority, start=g.start, end=g.end, months=g.months,
        products=frozenset(g.products) if g.products is not None else None,
        child_access=g.child_access if isinstance(g.child_access, str) else frozenset(g.child_access),
        invoice=tuple((item.at, Decimal(item.amount)) for item in commit.invoice) if commit is not None else ())


def recurring_of(rc: fmt.RecurringCredit, rid: str, currency: str) -> RecurringSpec:
    """A recurring credit; `rid` is its id when it gives none."""
    return RecurringSpec(
        id=rc.id or rid, unit=rc.credit_type or currency, amount=Decimal(rc.amount),
        per_seat_of=rc.per_seat_of, allocation=rc.allocation, seat_key=rc.seat_key,
        priority=rc.priority, rollover=Decimal(rc.rollover) if rc.rollover is not None else None,
        products=frozenset(rc.products) if rc.products is not None else None)


def subscription_of(sub: fmt.Subscription) -> SubscriptionSpec:
    """A subscription; its quantity defaults to 1 (0 seats for a seat-based one)."""
    return SubscriptionSpec(id=sub.id, product=sub.product,
                            quantity=sub.quantity if sub.quantity is not None else (0 if sub.seat_based else 1),
                            seat_based=sub.seat_based, proration=sub.proration)


def override_of(catalog: Catalog, o: fmt.Rate, default_start: int) -> tuple[str, int, Price]:
    """A contract's pinned price: (product, from when, price); no `starting_at`: `default_start`."""
    start = o.starting_at if o.starting_at is not None else default_start
    return o.product, start, price_of(catalog, o.credit_type, o.price, o.tiers)


def terms_of(catalog: Catalog, c: fmt.Contract) -> ContractTerms:
    """A contract or package of the file, in domain terms (grant ids resolved)."""
    cur = catalog.currency.id
    grants = [template_of(cr, f"credit-{i}", cur) for i, cr in enumerate(c.credits)]
    grants += [template_of(cm, f"commit-{i}", cur) for i, cm in enumerate(c.commits)]
    recurring = tuple(recurring_of(rc, f"recurring-{i}", cur) for i, rc in enumerate(c.recurring_credits))
    subs = tuple(subscription_of(sub) for sub in c.subscriptions)
    overrides = tuple(override_of(catalog, o, -FOREVER) for o in c.overrides)
    return ContractTerms(rate_card=c.rate_card, overrides=overrides, subscriptions=subs, grants=tuple(grants),
                         recurring=recurring, on_exhausted=c.on_exhausted)


def edit_contract_of(catalog: Catalog, edit: fmt.EditContract, cid: str, at: int, source: str) -> ins.EditContract:
    """An edit_contract entry as an input. Ids given by place are prefixed with the command's
    id (`timeline-7-credit-0`), so they never meet the contract's own `credit-0`; an override
    without `starting_at` pins its price from the entry's `at`."""
    cur = catalog.currency.id
    grants = [template_of(g, edit_grant_id(cid, "credit", k), cur) for k, g in enumerate(edit.add_credits)]
    grants += [template_of(g, edit_grant_id(cid, "commit", k), cur) for k, g in enumerate(edit.add_commits)]
    return ins.EditContract(
        id=cid, at_us=at, source=source, customer=edit.customer, grants=tuple(grants),
        subscriptions=tuple(subscription_of(sub) for sub in edit.add_subscriptions),
        recurring=tuple(recurring_of(rc, edit_grant_id(cid, "recurring", k), cur)
                        for k, rc in enumerate(edit.add_recurring_credits)),
        overrides=tuple(override_of(catalog, o, at) for o in edit.add_overrides))


def packages_of(catalog: Catalog, s: fmt.Scenario) -> dict[str, ContractTerms]:
    """Every declared package, in domain terms."""
    return {p.id: terms_of(catalog, p) for p in s.packages}
def catalog_inputs(catalog: Catalog, s: fmt.Scenario) -> list[ins.Input]:
    """The declared catalog as create inputs at the scenario's start, in the order a runtime
    needs them (units, products, rate cards, packages), each under its `declared_id`
    (`product:ai`): a timeline command cannot take those ids (the loader refuses it)."""
    at = s.start
    out: list[ins.Input] = []
    for i, ct in enumerate(s.credit_types):
        out.append(ins.CreateCreditType(id=declared_id("credit_types", ct.id), at_us=at,
                                        source=f"$.credit_types[{i}]", unit=unit_of(ct)))
    for i, p in enumerate(s.products):
        out.append(ins.CreateProduct(id=declared_id("products", p.id), at_us=at, source=f"$.products[{i}]",
                                     product=product_of(p)))
    for i, card in enumerate(s.rate_cards):
        out.append(ins.CreateRateCard(id=declared_id("rate_cards", card.id), at_us=at, source=f"$.rate_cards[{i}]",
                                      rate_card=card.id, rates=rates_of(catalog, card)))
    for i, pkg in enumerate(s.packages):
        out.append(ins.CreatePackage(id=declared_id("packages", pkg.id), at_us=at, source=f"$.packages[{i}]",
                                     package=pkg.id, terms=terms_of(catalog, pkg)))
    return out


def declared_inputs(s: fmt.Scenario) -> list[ins.Input]:
    """Everything a scenario declares up front, as the create inputs a runtime starting from
    `empty_catalog` applies first: the catalog, then the customers (parents first)."""
    catalog = build_catalog(s, with_created=True)
    return [*catalog_inputs(catalog, s), *customer_inputs(catalog, s)]


def customer_input(catalog: Catalog, c: fmt.Customer, at: int, source: str) -> ins.CreateCustomer:
    """A customer (declared, or created in the timeline) as a create input at `at`; its id is
    the customer's, so its postings name the same cause however it was written."""
    return ins.CreateCustomer(
        id=c.id, at_us=at, source=source, customer=c.id, name=c.name or c.id,
        start_us=c.start if c.start is not None else at, package=c.package,
        terms=terms_of(catalog, c.contract) if c.contract is not None else None, seats=tuple(c.seats),
        parent=c.parent, payer=c.payer)


def customer_inputs(catalog: Catalog, s: fmt.Scenario) -> list[ins.CreateCustomer]:
    """Declared customers as create commands at the scenario's start (parents first in file
    order is not required: a child is created after its parent)."""
    out: list[ins.CreateCustomer] = []
    pending = list(enumerate(s.customers))
    made: set[str] = set()
    while pending:
        later = []
        for i, c in pending:
            if c.parent is not None and c.parent not in made:
                later.append((i, c))
                continue
            made.add(c.id)
            out.append(customer_input(catalog, c, s.start, f"$.customers[{i}]"))
        if len(later) == len(pending):
            break  # a cycle: the loader refuses those before we get here
        pending = later
    return out


def entry_input(catalog: Catalog, entry: fmt.Entry, index: int | None, source: str) -> ins.Input:
    """The engine input for one timeline (or generated) entry. Ids: the usage id; for a
    command its `id:`, else its place in the timeline."""
    at = entry.at
    if entry.usage is not None:
        u = entry.usage
        return ins.RecordUsage(id=u.id, at_us=at, source=source, customer=u.customer, event_type=u.event_type,
                               properties=u.properties, timestamp_us=u.timestamp)
    cid = entry.id or f"timeline-{index}"
    created = _created_input(catalog, entry, cid, source)
    if created is not None:
        return created
    if entry.update_rate is not None or entry.add_rate is not None:
        r = entry.update_rate or entry.add_rate
        assert r is not None
        return ins.UpdateRate(id=cid, at_us=at, source=source, rate_card=r.rate_card, product=r.product,
                              price=price_of(catalog, r.credit_type, r.price, r.tiers))
    if entry.edit_contract is not None:
        return edit_contract_of(catalog, entry.edit_contract, cid, at, source)
    if entry.update_package is not None:
        return ins.UpdatePackage(id=cid, at_us=at, source=source, package=entry.update_package.package,
                                 terms=terms_of(catalog, entry.update_package))
    if entry.add_seats is not None:
        a = entry.add_seats
        return ins.AddSeats(id=cid, at_us=at, source=source, customer=a.customer, subscription=a.subscription,
                            seats=tuple(a.seats))
    if entry.remove_seats is not None:
        r2 = entry.remove_seats
        return ins.RemoveSeats(id=cid, at_us=at, source=source, customer=r2.customer, subscription=r2.subscription,
                               seats=tuple(r2.seats))
    if entry.set_quantity is not None:
        q = entry.set_quantity
        return ins.SetQuantity(id=cid, at_us=at, source=source, customer=q.customer, subscription=q.subscription,
                               quantity=q.quantity)
    if entry.buy_credits is not None:
        b = entry.buy_credits
        return ins.BuyCredits(
            id=cid, at_us=at, source=source, customer=b.customer, grant=b.id or f"purchase-{index}",
            unit=b.credit_type or catalog.currency.id, amount=Decimal(b.amount), price=Decimal(b.price),
            priority=b.priority, end_us=b.end if b.end is not None else FOREVER,
            products=frozenset(b.products) if b.products is not None else None)
    if entry.set_parent is not None:
        sp = entry.set_parent
        return ins.SetParent(id=cid, at_us=at, source=source, customer=sp.customer, parent=sp.parent, payer=sp.payer)
    cp = entry.change_package or entry.migrate_package
    assert cp is not None
    return ins.ChangePackage(id=cid, at_us=at, source=source, customer=cp.customer, package=cp.to,
                             migrate=entry.migrate_package is not None)


def _created_input(catalog: Catalog, entry: fmt.Entry, cid: str, source: str) -> ins.Input | None:
    """The input of a create command, if the entry is one."""
    at = entry.at
    if entry.create_customer is not None:
        return customer_input(catalog, entry.create_customer, at, source)
    if entry.create_credit_type is not None:
        return ins.CreateCreditType(id=cid, at_us=at, source=source, unit=unit_of(entry.create_credit_type))
    if entry.create_product is not None:
        return ins.CreateProduct(id=cid, at_us=at, source=source, product=product_of(entry.create_product))
    if entry.create_rate_card is not None:
        card = entry.create_rate_card
        return ins.CreateRateCard(id=cid, at_us=at, source=source, rate_card=card.id, rates=rates_of(catalog, card))
    if entry.create_package is not None:
        pkg = entry.create_package
        return ins.CreatePackage(id=cid, at_us=at, source=source, package=pkg.id, terms=terms_of(catalog, pkg))
    return None


def scenario_inputs(s: fmt.Scenario, file: str, base: Path) -> Iterator[ins.Input]:
    """Every input of a scenario in apply order: the declared catalog and customers at the
    start, then by time, then phase, then file order (timeline before generated usage at one
    instant). Generated usage is streamed. Prices are converted with the conversion catalog,
    which holds the units the timeline creates too."""
    catalog = build_catalog(s, with_created=True)
    yield from catalog_inputs(catalog, s)
    yield from customer_inputs(catalog, s)
    timeline = sorted(
        (entry_input(catalog, e, i, f"$.timeline[{i}]") for i, e in enumerate(s.timeline)),
        key=lambda item: (item.at_us, item.phase))
    # Generated and CSV usage arrive in time order (scenarios.generators streams them).
    generated = (entry_input(catalog, e, None, f"$.usage[generated {k}]")
                 for k, e in enumerate(generated_entries(s, file, base)))
    merged: Iterable[ins.Input] = heapq.merge(timeline, generated, key=lambda item: (item.at_us, item.phase))
    yield from merged
