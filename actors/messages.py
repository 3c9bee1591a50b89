"""Typed messages the engine and the actors exchange, and the phases of one instant.

Times are integer microseconds UTC. Every message names its `cause` (an input id or a timer),
which every ledger transaction it leads to carries, so any posting traces back to an input."""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum
from typing import Any, Literal

import msgspec

from meterbook.actors.catalog import ContractSpec, GrantSpec, Price, RecurringSpec, SubscriptionSpec


class Phase(IntEnum):
    """Order of work at one instant (SCENARIOS.md "Conventions"): catalog changes and
    creations; expiries (so breakage lands in the closing period); closing invoices; opening
    the next periods (recurring grants, advance charges); contract starts; grant activations
    and schedule items; other commands; usage. Closing every account before opening any keeps
    a payer's invoice in step with its children's charges. With a grace (Live time) a
    period's EXPIRE and CLOSE timers fall at its end + grace, after the next OPEN at the end."""

    CATALOG = 0
    EXPIRE = 1
    CLOSE = 2
    OPEN = 3
    START = 4
    ACTIVATE = 5
    COMMAND = 6
    USAGE = 7


class Msg(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Every message names the input (or timer) that caused it, for ledger tracing.

    Messages are immutable and never part of a reference cycle, so they are not tracked by
    the cycle collector (`gc=False`): a million events allocate millions of them."""

    cause: str


# -- to a Customer ---------------------------------------------------------------------------
class Start(Msg, frozen=True):
    """A customer's contract begins: first period, advance charges, grants. `contract`, when
    given, replaces the provisional one (the package version in force at the start)."""

    contract: ContractSpec | None = None
    start: int | None = None  # the contract's start, when it was back-dated (else: now)


class Usage(Msg, frozen=True):
    """One usage event for the customer. `at_us` is when it happened (its timestamp, checked
    by the engine): it picks the period, the rate and the grants; the engine's time when it
    is handled is its arrival, when its postings are booked."""

    id: str
    event_type: str
    properties: dict[str, Any]
    at_us: int


class AddSeats(Msg, frozen=True):
    """Assign seats on a seat-based subscription."""

    subscription: str
    seats: tuple[str, ...]


class RemoveSeats(Msg, frozen=True):
    """Unassign seats; takes effect at the next period."""

    subscription: str
    seats: tuple[str, ...]


class SetQuantity(Msg, frozen=True):
    """Change the quantity of a quantity subscription."""

    subscription: str
    quantity: int


class BuyCredits(Msg, frozen=True):
    """An add-on credit purchase: a paid grant, invoiced now."""

    id: str
    unit: str
    amount: Decimal
    price: Decimal
    priority: int
    end: int
    products: frozenset[str] | None = None


class ChangePackage(Msg, frozen=True):
    """Move to another package (or a newer version of the same one)."""

    contract: ContractSpec
    migrate: bool = False


class EditContract(Msg, frozen=True):
    """Additions to the contract from now on: grants (dates absolute), subscriptions,
    recurring credits and overrides (product, starting_at, price). Refused whole, naming the
    input's field (`$.add_commits[0].id`), if any part cannot apply."""

    grants: tuple[GrantSpec, ...] = ()
    subscriptions: tuple[SubscriptionSpec, ...] = ()
    recurring: tuple[RecurringSpec, ...] = ()
    overrides: tuple[tuple[str, int, Price], ...] = ()


class Lineage(Msg, frozen=True):
    """The engine tells a customer where it stands in its tree: its ancestors (nearest first)
    and who pays its charges (itself, or the nearest ancestor that pays for itself)."""

    ancestors: tuple[str, ...]
    payer: str


class Close(Msg, frozen=True):
    """Finalize the invoice of the period starting at `period`: at its end, or with a grace
    (Live time) that long after it, once no late usage can reach it."""

    period: int


class Open(Msg, frozen=True):
    """The next period begins now: advance charges, recurring grants."""


class Activate(Msg, frozen=True):
    """A contract grant (credit or commit) starts now."""

    grant: str


class InvoiceItem(Msg, frozen=True):
    """One item of a commit's invoice schedule falls due now."""

    grant: str
    index: int
    amount: Decimal


class Expire(Msg, frozen=True):
    """A grant of this customer ended at `end`: retire it now (at `end`, or with a grace that
    long after it, so late usage stamped before `end` could still draw it)."""

    grant: str
    end: int


class Charge(Msg, frozen=True):
    """A charge of a `payer: parent` descendant, for the payer's open invoice (the descendant
    has booked it to the payer's receivable already)."""

    kind: str
    description: str
    units: int
    source: str
    at_us: int
    product: str | None = None
    quantity: str | None = None
    unit: str | None = None
    package: str | None = None
    gross_units: int = 0
    credits_units: int = 0


# -- to a grant holder (CreditPool or Seat) --------------------------------------------------
class GrantTerms(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A grant handed to its holder: what it is worth and how it ranks (rule 4)."""

    id: str
    owner: str
    unit: str
    units: int
    priority: int
    paid: bool
    products: frozenset[str] | None
    start: int
    end: int
    account: int
    child_access: Literal["all", "none"] | frozenset[str] = "none"
    rollover: bool = False
    recurring: str | None = None
    commit_type: str | None = None


class Fund(Msg, frozen=True):
    """Hold a grant whose funding the customer has booked."""

    grant: GrantTerms


class Quote(Msg, frozen=True):
    """Which of your grants could pay `product` at `at_us` for `requester`? (read-only)"""

    unit: str
    product: str
    at_us: int
    requester: str


class Offered(msgspec.Struct, frozen=True, gc=False):
    """One grant offered by a quote: its rank, id and what it has left."""

    rank: tuple[Any, ...]
    grant: str
    units: int


class Offer(msgspec.Struct, frozen=True, gc=False):
    """The answer to a Quote, in the holder's own rule-4 order."""

    holder: str
    items: tuple[Offered, ...]


class Reserve(Msg, frozen=True):
    """Set aside up to `units` for `product`, from your grants in rule-4 order; answers Held.
    With `settle`, the hold is committed at once and the answer is Drawn: "commit" takes what
    there is, "commit_if_full" takes all of `units` or nothing (one holder, one charge: no
    second phase is needed, so none is paid for)."""

    hold: str
    unit: str
    product: str
    at_us: int
    units: int
    requester: str
    settle: Literal["hold", "commit", "commit_if_full"] = "hold"


class Take(Msg, frozen=True):
    """Set aside exactly these amounts of these grants (a plan across holders); answers Held."""

    hold: str
    takes: tuple[tuple[str, int], ...]
    requester: str


class Held(msgspec.Struct, frozen=True, gc=False):
    """What a Reserve or Take set aside."""

    units: int


class Commit(Msg, frozen=True):
    """Make a hold final; answers Drawn, with the ledger legs it needs."""

    hold: str
    at_us: int
    requester: str


class Release(Msg, frozen=True):
    """Give a hold back untouched (a denied event, a refused input)."""

    hold: str


class DrawnTake(msgspec.Struct, frozen=True, gc=False):
    """One grant's part of a committed draw."""

    grant: str
    owner: str
    account: int
    units: int
    postpaid: bool


class Drawn(msgspec.Struct, frozen=True, gc=False):
    """The answer to a Commit."""

    takes: tuple[DrawnTake, ...]


class Retire(Msg, frozen=True):
    """End a grant now. `carry_cap`: roll over up to that much into a grant for
    [`carry_start`, `carry_end`) (recurring credits with rollover: the next period); the
    rest is breakage."""

    grant: str
    kind: Literal["expiry", "forfeit"]
    carry_cap: int = 0
    carry_start: int = 0
    carry_end: int = 0


class Retired(msgspec.Struct, frozen=True, gc=False):
    """What retiring a grant left: breakage booked, a rolled-over grant, a postpaid true-up."""

    unit: str
    breakage: int
    rolled: str | None = None
    true_up: int = 0


class ForfeitRecurring(Msg, frozen=True):
    """A package change: retire every recurring and rolled-over grant still running now
    (forfeited); one that has ended and waits out its grace expires as usual."""


class Forfeited(msgspec.Struct, frozen=True, gc=False):
    """What a ForfeitRecurring retired, per grant."""

    retired: tuple[Retired, ...]


# -- to a ParentAccount ----------------------------------------------------------------------
class Rollup(Msg, frozen=True):
    """Usage rated in the currency (before credits) or spend, from one account of a subtree."""

    source: str
    at_us: int
    usage_units: int = 0
    spend_units: int = 0


class SharedDraw(Msg, frozen=True):
    """A descendant drew `units` from one of this account's shared grants."""

    at_us: int
    grant: str
    descendant: str
    units: int
