"""Turn a decoded scenario into the domain: catalog, contract specs and timeline messages."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

from meterbook.actors import Catalog, ContractSpec, GrantSpec, RecurringSpec, Unit
from meterbook.actors.catalog import FOREVER, Metric, Price, Product, RateCard, SubscriptionSpec, make_price
from meterbook.actors.messages import (
    PHASE_CATALOG,
    PHASE_COMMAND,
    PHASE_USAGE,
    AddSeats,
    BuyCredits,
    Msg,
    RemoveSeats,
    SetParent,
    SetQuantity,
    Usage,
)
from meterbook.scenarios import format as fmt
from meterbook.scenarios.types import EPOCH, to_us


def build_catalog(s: fmt.Scenario) -> Catalog:
    """Units, products and rate cards (with their effective-dated rates) of a scenario."""
    currency = Unit(id=s.currency, decimals=2, is_currency=True)
    units = {s.currency: currency}
    for ct in s.credit_types:
        units[ct.id] = Unit(id=ct.id, decimals=ct.decimals, is_currency=False,
                            fiat_per_credit=Decimal(ct.fiat_per_credit) if ct.fiat_per_credit is not None else None)
    products = {}
    for p in s.products:
        metric = None
        if p.metric is not None:
            filters = tuple(sorted((k, frozenset(str(v) for v in vals)) for k, vals in p.metric.filters.items()))
            metric = Metric(p.metric.event_type, p.metric.aggregation, p.metric.property, filters)
        products[p.id] = Product(id=p.id, name=p.name or p.id, kind=p.type, metric=metric)
    catalog = Catalog(currency, units, products)
    for card in s.rate_cards:
        rc = RateCard(card.id)
        for rate in card.rates:
            rc.set(rate.product, rate.starting_at if rate.starting_at is not None else -FOREVER,
                   price_of(catalog, rate.credit_type, rate.price, rate.tiers))
        catalog.rate_cards[card.id] = rc
    return catalog


def price_of(catalog: Catalog, credit_type: str | None, price: Decimal | None,
             tiers: list[fmt.Tier] | None) -> Price:
    """A domain Price from a rate's fields (`credit_type` absent: the currency)."""
    unit = catalog.units[credit_type or catalog.currency.id]
    flat = Decimal(price) if price is not None else None
    tier_tuple = None
    if tiers is not None:
        tier_tuple = tuple((Decimal(t.up_to) if t.up_to is not None else None, Decimal(t.price)) for t in tiers)
    return make_price(unit, flat, tier_tuple)


def contract_of(catalog: Catalog, c: fmt.Contract, start: int, package: str | None = None,
                version: int = 0, relative_to: int | None = None) -> ContractSpec:
    """A ContractSpec for a customer starting at `start`. Package grant dates are shifted by
    the customer's start when `relative_to` gives the package's reference instant."""
    cur = catalog.currency.id
    shift = 0 if relative_to is None else start - relative_to

    def at(value: int | None, default: int) -> int:
        return default if value is None else value + shift

    def end_of(g: fmt.Credit, begins: int) -> int:
        if g.months is not None:
            return add_months(begins, g.months)
        return at(g.end, FOREVER) if g.end is not None else FOREVER

    grants = []
    for i, cr in enumerate(c.credits):
        grants.append(GrantSpec(
            id=cr.id or f"credit-{i}", kind="credit", commit_type=None, unit=cr.credit_type or cur,
            amount=Decimal(cr.amount), priority=cr.priority, start=at(cr.start, start),
            end=end_of(cr, at(cr.start, start)),
            products=frozenset(cr.products) if cr.products is not None else None,
            child_access=cr.child_access if isinstance(cr.child_access, str) else frozenset(cr.child_access)))
    for i, cm in enumerate(c.commits):
        grants.append(GrantSpec(
            id=cm.id or f"commit-{i}", kind="commit", commit_type=cm.type, unit=cm.credit_type or cur,
            amount=Decimal(cm.amount), priority=cm.priority, start=at(cm.start, start),
            end=end_of(cm, at(cm.start, start)),
            products=frozenset(cm.products) if cm.products is not None else None,
            child_access=cm.child_access if isinstance(cm.child_access, str) else frozenset(cm.child_access),
            invoice=tuple((at(item.at, at(cm.start, start)), Decimal(item.amount)) for item in cm.invoice)))
    recurring = tuple(
        RecurringSpec(
            id=rc.id or f"recurring-{i}", unit=rc.credit_type or cur, amount=Decimal(rc.amount),
            per_seat_of=rc.per_seat_of, allocation=rc.allocation, seat_key=rc.seat_key,
            priority=rc.priority, rollover=Decimal(rc.rollover) if rc.rollover is not None else None,
            products=frozenset(rc.products) if rc.products is not None else None)
        for i, rc in enumerate(c.recurring_credits))
    subs = tuple(
        SubscriptionSpec(id=sub.id, product=sub.product,
                         quantity=sub.quantity if sub.quantity is not None else (0 if sub.seat_based else 1),
                         seat_based=sub.seat_based, proration=sub.proration)
        for sub in c.subscriptions)
    overrides = tuple(
        (o.product, o.starting_at if o.starting_at is not None else -FOREVER,
         price_of(catalog, o.credit_type, o.price, o.tiers))
        for o in c.overrides)
    return ContractSpec(rate_card=c.rate_card, overrides=overrides, subscriptions=subs,
                        grants=tuple(grants), recurring=recurring, on_exhausted=c.on_exhausted,
                        package=package, version=version)


def add_months(at_us: int, months: int) -> int:
    """The same day and time `months` calendar months later (clamped to the month's end)."""
    when = EPOCH + dt.timedelta(microseconds=at_us)
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return to_us(when.replace(year=year, month=month, day=day))


class Input:
    """One timeline input as the engine sees it: where, when, in which phase, what."""

    __slots__ = ("at_us", "input_id", "msg", "name", "path", "phase", "target")

    def __init__(self, at_us: int, phase: int, target: str, msg: Msg | fmt.UpdateRate,
                 path: str, name: str, input_id: str) -> None:
        self.at_us = at_us
        self.phase = phase
        self.target = target
        self.msg = msg
        self.path = path
        self.name = name
        self.input_id = input_id


def entry_input(entry: fmt.Entry, path: str, currency: str) -> Input:
    """The engine input for one timeline entry (ids: the usage id, else `id:`, else the path)."""
    if entry.usage is not None:
        u = entry.usage
        msg = Usage(id=u.id, event_type=u.event_type, properties=u.properties, cause=f"usage:{u.id}")
        return Input(entry.at, PHASE_USAGE, u.customer, msg, path, "usage", f"usage:{u.id}")
    cause = f"command:{entry.id}" if entry.id else f"command:{path}"
    if entry.update_rate is not None:
        return Input(entry.at, PHASE_CATALOG, "", entry.update_rate, path, "update_rate", cause)
    if entry.update_package is not None:
        return Input(entry.at, PHASE_CATALOG, "", entry.update_package, path, "update_package", cause)
    if entry.add_seats is not None:
        c = entry.add_seats
        return Input(entry.at, PHASE_COMMAND, c.customer,
                     AddSeats(subscription=c.subscription, seats=tuple(c.seats), cause=cause),
                     path, "add_seats", cause)
    if entry.remove_seats is not None:
        c = entry.remove_seats
        return Input(entry.at, PHASE_COMMAND, c.customer,
                     RemoveSeats(subscription=c.subscription, seats=tuple(c.seats), cause=cause),
                     path, "remove_seats", cause)
    if entry.set_quantity is not None:
        q = entry.set_quantity
        return Input(entry.at, PHASE_COMMAND, q.customer,
                     SetQuantity(subscription=q.subscription, quantity=q.quantity, cause=cause),
                     path, "set_quantity", cause)
    if entry.buy_credits is not None:
        b = entry.buy_credits
        gid = b.id or f"purchase-{path.rsplit('[', 1)[-1].rstrip(']')}"
        return Input(entry.at, PHASE_COMMAND, b.customer,
                     BuyCredits(id=gid, unit=b.credit_type or currency, amount=Decimal(b.amount),
                                price=Decimal(b.price), priority=b.priority,
                                end=b.end if b.end is not None else FOREVER, cause=cause,
                                products=frozenset(b.products) if b.products is not None else None),
                     path, "buy_credits", cause)
    if entry.set_parent is not None:
        sp = entry.set_parent
        return Input(entry.at, PHASE_COMMAND, sp.customer,
                     SetParent(parent=sp.parent, payer=sp.payer, cause=cause), path, "set_parent", cause)
    name = "change_package" if entry.change_package is not None else "migrate_package"
    cp = entry.change_package or entry.migrate_package
    assert cp is not None
    return Input(entry.at, PHASE_COMMAND, cp.customer, cp, path, name, cause)
