"""The engine's own inputs: what `Runtime.apply` takes, whatever the source.

A scenario file's entries are converted into these in one place (engine/from_scenario.py);
the HTTP API will convert its request bodies into the same Structs. Nothing here is a
scenario-format type, so the file format and the engine can change apart. Every input has an
id (exactly-once) and a business time; `source` only says where it came from, for errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

import msgspec

from meterbook.actors.catalog import ContractTerms, GrantTemplate, Price, Product, RecurringSpec, SubscriptionSpec, Unit
from meterbook.actors.messages import Phase


class Input(msgspec.Struct, frozen=True, gc=False, kw_only=True, omit_defaults=True, tag=True):
    """Common fields: a unique id, the business time, and where it came from."""

    id: str
    at_us: int
    source: str = ""

    phase: ClassVar[Phase] = Phase.COMMAND  # not a field: where it applies within its instant


class CreateCustomer(Input, frozen=True, kw_only=True):
    """A customer and its contract (or the package it is provisioned from) from `start_us`
    (None: from the input's own instant, which live is its arrival)."""

    customer: str
    name: str
    start_us: int | None = None
    package: str | None = None
    terms: ContractTerms | None = None
    seats: tuple[str, ...] = ()
    parent: str | None = None
    payer: Literal["self", "parent"] = "self"

    phase: ClassVar[Phase] = Phase.CATALOG


class CreateCreditType(Input, frozen=True, kw_only=True):
    """A credit type created at run time."""

    unit: Unit

    phase: ClassVar[Phase] = Phase.CATALOG


class CreateProduct(Input, frozen=True, kw_only=True):
    """A product created at run time."""

    product: Product

    phase: ClassVar[Phase] = Phase.CATALOG


class RateTerms(msgspec.Struct, frozen=True, gc=False):
    """One rate of a rate card: a product's price from an instant on."""

    product: str
    starting_at: int
    price: Price


class CreateRateCard(Input, frozen=True, kw_only=True):
    """A rate card created at run time, with its rates."""

    rate_card: str
    rates: tuple[RateTerms, ...]

    phase: ClassVar[Phase] = Phase.CATALOG


class CreatePackage(Input, frozen=True, kw_only=True):
    """A package created at run time (version 0)."""

    package: str
    terms: ContractTerms

    phase: ClassVar[Phase] = Phase.CATALOG


class RecordUsage(Input, frozen=True, kw_only=True):
    """One usage event. `at_us` is its arrival (its place in the order); `timestamp_us`, when
    given, is when it happened, which decides its period and the grants active for it (None:
    its arrival, and the journal body omits it)."""

    customer: str
    event_type: str
    properties: dict[str, Any]
    timestamp_us: int | None = None

    phase: ClassVar[Phase] = Phase.USAGE


class AddSeats(Input, frozen=True, kw_only=True):
    """Assign seats on a seat-based subscription."""

    customer: str
    subscription: str
    seats: tuple[str, ...]


class RemoveSeats(Input, frozen=True, kw_only=True):
    """Unassign seats (effective next period)."""

    customer: str
    subscription: str
    seats: tuple[str, ...]


class SetQuantity(Input, frozen=True, kw_only=True):
    """Set the quantity of a quantity subscription."""

    customer: str
    subscription: str
    quantity: int


class BuyCredits(Input, frozen=True, kw_only=True):
    """An add-on credit purchase."""

    customer: str
    grant: str
    unit: str
    amount: Decimal
    price: Decimal
    priority: int
    end_us: int
    products: frozenset[str] | None = None


class ChangePackage(Input, frozen=True, kw_only=True):
    """Move a customer to another package, or (`migrate`) to the newest version of its own."""

    customer: str
    package: str
    migrate: bool = False


class SetParent(Input, frozen=True, kw_only=True):
    """Move a customer under another (or to the top with `parent` None)."""

    customer: str
    parent: str | None
    payer: Literal["self", "parent"] | None = None


class UpdateRate(Input, frozen=True, kw_only=True):
    """A new rate on a rate card from `at_us` on."""

    rate_card: str
    product: str
    price: Price

    phase: ClassVar[Phase] = Phase.CATALOG


class UpdatePackage(Input, frozen=True, kw_only=True):
    """A new version of a package from `at_us` on (customers provisioned later get it)."""

    package: str
    terms: ContractTerms

    phase: ClassVar[Phase] = Phase.CATALOG


class EditContract(Input, frozen=True, kw_only=True):
    """Additions to one customer's contract from `at_us` on (docs/semantics.md, "Editing a
    contract"). Grants keep the contract's shape: a `start` of None means `at_us`; an invoice
    item without a date is billed at its grant's start. Overrides are (product, starting_at,
    price) as in ContractTerms, their start already resolved (default `at_us`)."""

    customer: str
    grants: tuple[GrantTemplate, ...] = ()
    subscriptions: tuple[SubscriptionSpec, ...] = ()
    recurring: tuple[RecurringSpec, ...] = ()
    overrides: tuple[tuple[str, int, Price], ...] = ()


class Answer(msgspec.Struct, frozen=True, gc=False, kw_only=True, omit_defaults=True):
    """What `apply` says of one input. Refused: `field` is a path inside the input, `reason`
    says why; nothing it would have done was done."""

    input_id: str
    status: Literal["accepted", "duplicate", "refused"]
    field: str | None = None
    reason: str | None = None


# Every kind of input, for decoding a journal body back (msgspec tags each by its class name).
AnyInput = (CreateCustomer | CreateCreditType | CreateProduct | CreateRateCard | CreatePackage | RecordUsage | AddSeats | RemoveSeats | SetQuantity | BuyCredits | ChangePackage
            | SetParent | UpdateRate | UpdatePackage | EditContract)

CUSTOMER_INPUTS = (RecordUsage, AddSeats, RemoveSeats, SetQuantity, BuyCredits, ChangePackage, SetParent,
                   EditContract)
