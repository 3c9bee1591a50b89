"""What an actor may do beyond its own state: send messages, ask for an answer, set timers.

The engine implements this (engine/router.py). An actor holds no reference to another actor,
only its address; every other actor's state is reached through these calls. In a step, `ask`
runs the target's handler in-line and returns its answer (the actors of one account tree are
serialized, so nothing else runs in between: this is what makes reserve -> commit race-free);
`tell` is delivered after the current handler returns, in the order told; `later` asks the
engine to deliver a message at (`at_us`, `phase`)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from meterbook.actors.messages import Msg, Phase


class Actor(Protocol):
    """Anything the engine can deliver to: one handler over state nobody else touches."""

    address: str

    def handle(self, msg: Msg, now: int) -> Any:
        """Apply one message at engine time `now`; the answer is returned to an `ask`."""


class Mailbox(Protocol):
    """The engine's side of the actor protocol."""

    def ask(self, target: str, msg: Msg) -> Any:
        """Deliver `msg` now and return the answer; None when no actor has that address."""

    def tell(self, target: str, msg: Msg) -> None:
        """Deliver `msg` after the current handler, in order."""

    def later(self, at_us: int, phase: Phase, target: str, msg: Msg) -> None:
        """Deliver `msg` at (`at_us`, `phase`) (nothing past the run's horizon)."""

    def spawn(self, kind: Literal["pool", "seat", "rollup"], customer: str, key: str | int) -> str:
        """Start an actor of `kind` for `customer` (a pool's unit, a seat's id, a roll-up's
        contract start), unless one lives at its address already; returns the address. The
        engine builds it: an actor module never imports another actor's module."""


def pool_address(customer: str, unit: str) -> str:
    """Address of a customer's CreditPool of one unit."""
    return f"pool/{unit}/{customer}"


def seat_address(customer: str, seat: str) -> str:
    """Address of one seat of a customer."""
    return f"seat/{customer}/{seat}"


def rollup_address(customer: str) -> str:
    """Address of a customer's ParentAccount (its subtree's roll-ups)."""
    return f"rollup/{customer}"
