"""The catalog as the domain sees it: units, products, metrics, prices, rate cards, contracts."""

from __future__ import annotations

import bisect
from decimal import Decimal
from typing import Any, Literal

import msgspec

from meterbook.actors.money import ledger_scale, to_units

FOREVER = 2**62


class Unit(msgspec.Struct, frozen=True):
    """A currency or credit type, with its display decimals and ledger scale."""

    id: str
    decimals: int
    is_currency: bool
    fiat_per_credit: Decimal | None = None

    @property
    def scale(self) -> int:
        """Decimals the ledger stores for this unit."""
        return ledger_scale(self.decimals)

    @property
    def billable(self) -> bool:
        """Whether overage in this unit can be billed in the currency."""
        return self.is_currency or self.fiat_per_credit is not None


class Metric(msgspec.Struct, frozen=True):
    event_type: str
    aggregation: Literal["count", "sum", "max", "unique"]
    property: str | None
    filters: tuple[tuple[str, frozenset[str]], ...] = ()

    def matches(self, properties: dict[str, Any]) -> bool:
        """Whether an event passes every property filter of the metric."""
        for name, allowed in self.filters:
            if str(properties.get(name)) not in allowed:
                return False
        return True


class Product(msgspec.Struct, frozen=True):
    id: str
    name: str
    kind: Literal["subscription", "usage"]
    metric: Metric | None = None


class Price(msgspec.Struct, frozen=True):
    """A flat or graduated price in one unit. `up_to` bounds are inclusive."""

    unit: str
    flat: Decimal | None = None
    tiers: tuple[tuple[Decimal | None, Decimal], ...] | None = None
    flat_units: int | None = None  # flat price at the unit's ledger scale, when exact
    scale: int = 0  # the unit's ledger scale

    def rated(self, quantity: Decimal | int) -> Decimal:
        """The rated amount of an aggregate quantity (graduated across tiers)."""
        if self.flat is not None:
            return self.flat * quantity
        total = Decimal(0)
        lower = Decimal(0)
        assert self.tiers is not None
        for up_to, price in self.tiers:
            if quantity <= lower:
                break
            top = quantity if up_to is None else min(quantity, up_to)
            total += (top - lower) * price
            if up_to is None:
                break
            lower = up_to
        return total


def make_price(unit: Unit, flat: Decimal | None, tiers: tuple[tuple[Decimal | None, Decimal], ...] | None) -> Price:
    """A Price with its integer fast path precomputed where the flat price is exact."""
    flat_units = None
    if flat is not None:
        units = flat.scaleb(unit.scale)
        if units == units.to_integral_value():
            flat_units = int(units)
    return Price(unit=unit.id, flat=flat, tiers=tiers, flat_units=flat_units, scale=unit.scale)


class RateCard:
    """Effective-dated prices per product; `update` appends a change from an instant on."""

    def __init__(self, card_id: str) -> None:
        self.id = card_id
        self._starts: dict[str, list[int]] = {}
        self._prices: dict[str, list[Price]] = {}

    def set(self, product: str, starting_at_us: int, price: Price) -> None:
        """Make `price` apply to `product` from `starting_at_us` until a later change."""
        starts = self._starts.setdefault(product, [])
        prices = self._prices.setdefault(product, [])
        i = bisect.bisect_right(starts, starting_at_us)
        if i and starts[i - 1] == starting_at_us:
            prices[i - 1] = price
        else:
            starts.insert(i, starting_at_us)
            prices.insert(i, price)

    def price_window(self, product: str, at_us: int) -> tuple[Price | None, int, int]:
        """The price in force at `at_us` and the interval [from, until) it stays in force."""
        starts = self._starts.get(product)
        if not starts:
            return None, -FOREVER, FOREVER
        i = bisect.bisect_right(starts, at_us)
        until = starts[i] if i < len(starts) else FOREVER
        if not i:
            return None, -FOREVER, until
        return self._prices[product][i - 1], starts[i - 1], until


class SubscriptionSpec(msgspec.Struct, frozen=True):
    id: str
    product: str
    quantity: int
    seat_based: bool
    proration: bool


class RecurringSpec(msgspec.Struct, frozen=True):
    id: str
    unit: str
    amount: Decimal
    per_seat_of: str | None
    allocation: Literal["pooled", "individual"]
    seat_key: str
    priority: int
    rollover: Decimal | None
    products: frozenset[str] | None


class GrantSpec(msgspec.Struct, frozen=True):
    """A credit (free) or commit (paid) as written in a contract; times absolute."""

    id: str
    kind: Literal["credit", "commit"]
    commit_type: Literal["prepaid", "postpaid"] | None
    unit: str
    amount: Decimal
    priority: int
    start: int
    end: int
    products: frozenset[str] | None
    child_access: Literal["all", "none"] | frozenset[str]
    invoice: tuple[tuple[int, Decimal], ...] = ()


class ContractSpec(msgspec.Struct, frozen=True):
    """ContractTerms made concrete for one customer (actors/contracts.py `contract_of`): the
    same fields, with grant dates resolved from the customer's start, and the package and
    version it came from. Two stages of one thing, so two types rather than optional dates."""

    rate_card: str
    overrides: tuple[tuple[str, int, Price], ...]
    subscriptions: tuple[SubscriptionSpec, ...]
    grants: tuple[GrantSpec, ...]
    recurring: tuple[RecurringSpec, ...]
    on_exhausted: Literal["bill", "block"]
    package: str | None = None
    version: int = 0


def currency_unit(code: str) -> Unit:
    """A currency as a unit: two decimals, as the rulebook fixes."""
    return Unit(id=code, decimals=2, is_currency=True)


class Catalog:
    """Everything shared by all customers: units, products, rate cards."""

    @classmethod
    def of_currency(cls, code: str) -> Catalog:
        """What a runtime starts from: the currency and nothing else (the rest is created by
        inputs, so a journal holds it)."""
        unit = currency_unit(code)
        return cls(unit, {unit.id: unit}, {})

    def __init__(self, currency: Unit, units: dict[str, Unit], products: dict[str, Product]) -> None:
        self.currency = currency
        self.units = units
        self.products = products
        self.rate_cards: dict[str, RateCard] = {}
        self.version = 0  # bumped by every rate change, so cached prices know they are stale
        self.by_event_type: dict[str, list[Product]] = {}
        for p in products.values():
            self._index(p)

    def _index(self, p: Product) -> None:
        if p.metric is not None:
            self.by_event_type.setdefault(p.metric.event_type, []).append(p)

    def add_product(self, p: Product) -> None:
        """A product created at run time: usage of its event type is rated from now on."""
        self.products[p.id] = p
        self._index(p)

    def fiat_units(self, unit: str, units: int) -> int:
        """Convert an amount of a credit type into the currency at its ledger scale."""
        u = self.units[unit]
        if u.is_currency:
            return units
        assert u.fiat_per_credit is not None
        value = Decimal(units).scaleb(-u.scale) * u.fiat_per_credit
        return to_units(value, self.currency.scale)


class GrantTemplate(msgspec.Struct, frozen=True):
    """A credit or commit as a contract or package writes it: times may be absent (then
    relative to the customer's start) or given as a number of `months`."""

    id: str
    kind: Literal["credit", "commit"]
    commit_type: Literal["prepaid", "postpaid"] | None
    unit: str
    amount: Decimal
    priority: int
    start: int | None
    end: int | None
    months: int | None
    products: frozenset[str] | None
    child_access: Literal["all", "none"] | frozenset[str]
    invoice: tuple[tuple[int | None, Decimal], ...] = ()


class ContractTerms(msgspec.Struct, frozen=True):
    """A contract or package definition in domain terms, before it is given a start."""

    rate_card: str
    overrides: tuple[tuple[str, int, Price], ...]
    subscriptions: tuple[SubscriptionSpec, ...]
    grants: tuple[GrantTemplate, ...]
    recurring: tuple[RecurringSpec, ...]
    on_exhausted: Literal["bill", "block"]
