"""Delivery of messages between actors, in the deterministic order of one engine.

The router is the engine's side of `actors.mailbox.Mailbox`: it owns the actors (by address),
the timeline of timers, and the queue of told messages. `deliver` runs one step: the target's
handler, then every message told during it, in order. Asks run in-line inside the step. Since
one router serves whole account trees and nothing else runs during a step, draws across actors
(reserve -> commit / release) are race-free, in simulation and live alike."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from meterbook.actors.mailbox import Actor
from meterbook.actors.messages import Msg, Phase
from meterbook.errors import invariant

ENGINE = ""  # the address of the engine itself, for timers the engine sets (package provisioning)


class Router:
    """Actors by address, a timeline keyed (time, phase, sequence), and a told-message queue."""

    def __init__(self, horizon: int, factory: Callable[[str, str, str | int], Actor]) -> None:
        self.horizon = horizon
        self.factory = factory
        self.actors: dict[str, Actor] = {}
        self.timeline: SortedList = SortedList()
        self.outbox: deque[tuple[str, Msg]] = deque()
        self.seq = 0
        self.now = 0
        self.engine: Actor | None = None
        self.head: tuple[int, int] | None = None  # (time, phase) of the first timer: read per input

    # -- the Mailbox protocol ------------------------------------------------------------
    def ask(self, target: str, msg: Msg) -> Any:
        """Deliver now and return the answer (None when nobody lives at `target`)."""
        actor = self.actors.get(target)
        return None if actor is None else actor.handle(msg, self.now)

    def tell(self, target: str, msg: Msg) -> None:
        """Queue for delivery after the current handler."""
        self.outbox.append((target, msg))

    def later(self, at_us: int, phase: Phase, target: str, msg: Msg) -> None:
        """Set a timer; past the horizon's period closes nothing is delivered."""
        if at_us > self.horizon or (at_us == self.horizon and phase > Phase.CLOSE):
            return
        invariant(at_us >= self.now, f"timer for {target} at {at_us} is in the past ({self.now})")
        self.seq += 1
        self.timeline.add((at_us, int(phase), self.seq, target, msg))
        key = (at_us, int(phase))
        if self.head is None or key < self.head:
            self.head = key

    def spawn(self, kind: Literal["pool", "seat", "rollup"], customer: str, key: str | int) -> str:
        """Start an actor built by the engine's factory; one already at its address stays."""
        actor = self.factory(kind, customer, key)
        return self.actors.setdefault(actor.address, actor).address

    def add(self, actor: Actor) -> None:
        """Register an actor the engine built itself (a customer)."""
        invariant(actor.address not in self.actors, f"an actor lives at {actor.address!r} already")
        self.actors[actor.address] = actor

    # -- stepping -------------------------------------------------------------------------
    def deliver(self, target: str, msg: Msg) -> None:
        """One step: the target's handler, then everything told meanwhile."""
        actor = self.engine if target == ENGINE else self.actors.get(target)
        invariant(actor is not None, f"no actor at {target!r}")
        assert actor is not None
        outbox = self.outbox
        outbox.clear()  # what a refused step told never reaches anyone
        actor.handle(msg, self.now)
        while outbox:
            to, told = outbox.popleft()
            receiver = self.actors.get(to)
            invariant(receiver is not None, f"no actor at {to!r} for {type(told).__name__}")
            assert receiver is not None
            receiver.handle(told, self.now)

    def due_at(self, at_us: int) -> bool:
        """Whether some timer is set for the instant `at_us` (any phase)."""
        timeline = self.timeline
        i = timeline.bisect_left((at_us,))
        return i < len(timeline) and bool(timeline[i][0] == at_us)

    def next_due(self, bound: tuple[int, int]) -> tuple[int, int, int, str, Msg] | None:
        """Take the next timer due before `bound` (time, phase), if any."""
        head = self.head
        if head is None or head >= bound:
            return None
        timeline = self.timeline
        entry: tuple[int, int, int, str, Msg] = timeline.pop(0)
        self.head = timeline[0][:2] if timeline else None
        return entry
