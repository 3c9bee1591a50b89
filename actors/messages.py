"""Typed messages the engine and the actors exchange. Times are integer microseconds UTC."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from meterbook.actors.catalog import ContractSpec


class Msg(msgspec.Struct, frozen=True, kw_only=True):
    """Every message names the input (or timer) that caused it, for ledger tracing."""

    cause: str


class Start(Msg):
    """A customer's contract begins: first period, advance charges, grants. `contract`, when
    given, replaces the provisional one (the package version in force at the start)."""

    contract: ContractSpec | None = None


class Usage(Msg):
    id: str
    event_type: str
    properties: dict[str, Any]


class AddSeats(Msg):
    subscription: str
    seats: tuple[str, ...]


class RemoveSeats(Msg):
    subscription: str
    seats: tuple[str, ...]


class SetQuantity(Msg):
    subscription: str
    quantity: int


class BuyCredits(Msg):
    id: str
    unit: str
    amount: Decimal
    price: Decimal
    priority: int
    end: int
    products: frozenset[str] | None = None


class ChangePackage(Msg):
    contract: ContractSpec
    migrate: bool = False


class SetParent(Msg):
    parent: str | None
    payer: str | None


class Boundary(Msg):
    """A period ends now for this customer; the next one opens unless the run ends."""


class Expire(Msg):
    grant: str


class Activate(Msg):
    grant: str


class InvoiceItem(Msg):
    grant: str
    amount: Decimal


class Timer(msgspec.Struct, frozen=True):
    """An actor asks the engine to deliver `msg` to `target` at (`at_us`, `phase`)."""

    at_us: int
    phase: int
    target: str
    msg: Msg


# Order of work at one instant (SCENARIOS.md "Conventions"): catalog changes, period
# boundaries (expiries first, so breakage lands in the closing period), contract starts,
# grant activations and schedule items, other commands, then usage.
PHASE_CATALOG = 0
PHASE_EXPIRE = 1
PHASE_BOUNDARY = 2
PHASE_START = 3
PHASE_ACTIVATE = 4
PHASE_COMMAND = 5
PHASE_USAGE = 6
