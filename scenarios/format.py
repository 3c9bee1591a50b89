"""Format 1 of the scenario file as typed msgspec Structs (field names are the contract)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from meterbook.scenarios.types import Amount, At


class _Base(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class CreditType(_Base, kw_only=True, frozen=True):
    id: str
    name: str = ""
    decimals: int = 0
    fiat_per_credit: Amount | None = None


class Metric(_Base, kw_only=True, frozen=True):
    event_type: str
    aggregation: Literal["count", "sum", "max", "unique"] = "sum"
    property: str | None = None
    filters: dict[str, list[str | int]] = {}


class Product(_Base, kw_only=True, frozen=True):
    id: str
    name: str = ""
    type: Literal["subscription", "usage"]
    metric: Metric | None = None


class Tier(_Base, kw_only=True, frozen=True):
    up_to: Amount | None = None
    price: Amount


class Rate(_Base, kw_only=True, frozen=True):
    product: str
    price: Amount | None = None
    tiers: list[Tier] | None = None
    credit_type: str | None = None
    starting_at: At | None = None


class RateCard(_Base, kw_only=True, frozen=True):
    id: str
    name: str = ""
    rates: list[Rate] = []


class Subscription(_Base, kw_only=True, frozen=True):
    id: str
    product: str
    quantity: int | None = None
    seat_based: bool = False
    proration: bool = True


class RecurringCredit(_Base, kw_only=True, frozen=True):
    id: str | None = None
    credit_type: str | None = None
    amount: Amount
    per_seat_of: str | None = None
    allocation: Literal["pooled", "individual"] = "pooled"
    seat_key: str = "user"
    priority: int = 1
    rollover: Amount | None = None
    products: list[str] | None = None


class InvoiceItem(_Base, kw_only=True, frozen=True):
    at: At | None = None  # default: the grant's start (useful in packages)
    amount: Amount


class Credit(_Base, kw_only=True, frozen=True):
    id: str | None = None
    credit_type: str | None = None
    amount: Amount
    priority: int = 1
    start: At | None = None
    end: At | None = None
    products: list[str] | None = None
    child_access: Literal["all", "none"] | list[str] = "none"
    months: int | None = None  # ends this many calendar months after its start


class Commit(Credit, kw_only=True, frozen=True):
    """A paid grant: a credit with a type and, for prepaid commits, an invoice schedule."""

    type: Literal["prepaid", "postpaid"]
    invoice: list[InvoiceItem] = []


class Contract(_Base, kw_only=True, frozen=True):
    rate_card: str
    overrides: list[Rate] = []
    subscriptions: list[Subscription] = []
    commits: list[Commit] = []
    credits: list[Credit] = []
    recurring_credits: list[RecurringCredit] = []
    on_exhausted: Literal["bill", "block"] = "bill"
    billing_cycle: Literal["monthly"] = "monthly"


class Package(Contract, kw_only=True, frozen=True):
    id: str
    name: str = ""


class Customer(_Base, kw_only=True, frozen=True):
    id: str
    name: str = ""
    package: str | None = None
    contract: Contract | None = None
    start: At | None = None
    seats: list[str] = []
    parent: str | None = None
    payer: Literal["self", "parent"] = "self"


class UsageEvent(_Base, kw_only=True, frozen=True):
    """A usage event. `timestamp` (default: the entry's `at`, its arrival) decides its period
    and which grants are active for it; `at` decides its place in the order (Live time)."""

    id: str
    customer: str
    event_type: str
    properties: dict[str, Any] = {}
    timestamp: At | None = None


class SeatChange(_Base, kw_only=True, frozen=True):
    customer: str
    subscription: str
    seats: list[str]


class SetQuantity(_Base, kw_only=True, frozen=True):
    customer: str
    subscription: str
    quantity: int


# The default price of a purchase, told apart by identity from a written `price: "0"` so that
# `scenario_warnings` can point out credits that are free only because no price was given.
NO_PRICE = Amount("0")


class BuyCredits(_Base, kw_only=True, frozen=True):
    customer: str
    credit_type: str | None = None
    amount: Amount
    price: Amount = NO_PRICE
    priority: int = 1
    end: At | None = None
    id: str | None = None
    products: list[str] | None = None


class UpdatePackage(Contract, kw_only=True, frozen=True):
    """A new version of a package from the entry's instant (customers provisioned later get it)."""

    package: str
    name: str = ""


class ChangePackage(_Base, kw_only=True, frozen=True):
    customer: str
    to: str


class UpdateRate(_Base, kw_only=True, frozen=True):
    rate_card: str
    product: str
    price: Amount | None = None
    tiers: list[Tier] | None = None
    credit_type: str | None = None


class SetParent(_Base, kw_only=True, frozen=True):
    customer: str
    parent: str | None
    payer: Literal["self", "parent"] | None = None


class EditContract(_Base, kw_only=True, frozen=True):
    """Additions to one customer's contract from the entry's `at` on, each entry shaped exactly
    as in a contract (SCENARIOS.md "Creating and editing at run time"). A commit's or credit's
    `start` and an override's `starting_at` default to the entry's `at`."""

    customer: str
    add_commits: list[Commit] = []
    add_credits: list[Credit] = []
    add_subscriptions: list[Subscription] = []
    add_recurring_credits: list[RecurringCredit] = []
    add_overrides: list[Rate] = []


class Entry(_Base, kw_only=True, frozen=True):
    """One timeline entry: an instant and exactly one command or usage event."""

    at: At
    id: str | None = None
    usage: UsageEvent | None = None
    add_seats: SeatChange | None = None
    remove_seats: SeatChange | None = None
    set_quantity: SetQuantity | None = None
    buy_credits: BuyCredits | None = None
    change_package: ChangePackage | None = None
    migrate_package: ChangePackage | None = None
    update_rate: UpdateRate | None = None
    update_package: UpdatePackage | None = None
    set_parent: SetParent | None = None
    # Created at run time: each body is exactly the entry of its declared section.
    create_credit_type: CreditType | None = None
    create_product: Product | None = None
    create_rate_card: RateCard | None = None
    add_rate: UpdateRate | None = None
    create_package: Package | None = None
    create_customer: Customer | None = None
    edit_contract: EditContract | None = None


COMMANDS = (
    "usage",
    "add_seats",
    "remove_seats",
    "set_quantity",
    "buy_credits",
    "change_package",
    "migrate_package",
    "update_rate",
    "update_package",
    "set_parent",
    "create_credit_type",
    "create_product",
    "create_rate_card",
    "add_rate",
    "create_package",
    "create_customer",
    "edit_contract",
)

# The create commands, and the declared section each one's body belongs to.
CREATES = {
    "create_credit_type": "credit_types",
    "create_product": "products",
    "create_rate_card": "rate_cards",
    "create_package": "packages",
    "create_customer": "customers",
}


class Generator(_Base, kw_only=True, frozen=True):
    """A usage source: a seeded generator (`generator:`) or a CSV file (`csv:`)."""

    generator: Literal["per_seat", "per_customer"] | None = None
    csv: str | None = None
    customers: list[str] | None = None
    event_type: str | None = None
    events_per_day: int = 1
    seat_key: str = "user"
    start: At | None = None
    end: At | None = None
    properties: dict[str, Any] = {}


class ExpectInvoice(_Base, kw_only=True, frozen=True):
    customer: str
    period: At
    total: Amount


class ExpectBalance(_Base, kw_only=True, frozen=True):
    customer: str
    credit_type: str
    at: At
    balance: Amount
    seat: str | None = None
    grant: str | None = None


class ExpectDenied(_Base, kw_only=True, frozen=True):
    customer: str
    count: int


class ExpectBreakage(_Base, kw_only=True, frozen=True):
    customer: str
    credit_type: str
    period: At
    amount: Amount


class ExpectRollup(_Base, kw_only=True, frozen=True):
    customer: str
    period: At
    usage: Amount


class Expect(_Base, kw_only=True, frozen=True):
    invoices: list[ExpectInvoice] = []
    balances: list[ExpectBalance] = []
    denied: list[ExpectDenied] = []
    breakage: list[ExpectBreakage] = []
    rollup: list[ExpectRollup] = []


class Scenario(_Base, kw_only=True, frozen=True):
    meterbook: Literal[1]
    name: str = ""
    seed: int = 0
    start: At
    end: At
    currency: str = "USD"
    grace_seconds: int = 0  # how long after its timestamp usage may arrive (Live time)
    credit_types: list[CreditType] = []
    products: list[Product] = []
    rate_cards: list[RateCard] = []
    packages: list[Package] = []
    customers: list[Customer] = []
    timeline: list[Entry] = []
    usage: list[Generator] = []
    expect: Expect | None = None
