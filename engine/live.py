"""Live mode: the same engine fed from a Trio inbox and advanced by a clock.

Producers (the HTTP API, tests, importers) send inputs into one bounded memory channel; a
single engine task drains it in batches, applies them in arrival order, lets time advance to
the clock, and commits the batch to the ledger in one SQLite transaction through a worker
thread. Accounts of one tree are therefore never touched by two tasks at once, which is what
makes shared-commit drawdown race-free however many producers send concurrently."""

from __future__ import annotations

import math

import trio

from engine.build import Input
from engine.clock import Clock
from engine.errors import InputError
from engine.runtime import Engine


class Ack:
    """The answer to one submitted input, set once its batch is committed."""

    __slots__ = ("accepted", "duplicate", "error", "event")

    def __init__(self) -> None:
        self.accepted = False
        self.duplicate = False
        self.error: str | None = None
        self.event = trio.Event()


class LiveRunner:
    """Drains inputs into an Engine; `submit` returns once the input is committed."""

    def __init__(self, engine: Engine, clock: Clock, *, max_batch: int = 1_000,
                 inbox: int = 10_000, tick_s: float = 1.0) -> None:
        self.engine = engine
        self.clock = clock
        self.max_batch = max_batch
        self.tick_s = tick_s
        self._send, self._recv = trio.open_memory_channel[tuple[Input, Ack]](inbox)
        self.batches = 0

    async def submit(self, item: Input) -> Ack:
        """Queue one input and wait until it is applied and durable (or refused)."""
        ack = Ack()
        await self._send.send((item, ack))
        await ack.event.wait()
        return ack

    def sender(self) -> trio.MemorySendChannel:
        """A clone of the inbox for one more producer task."""
        return self._send.clone()

    async def close(self) -> None:
        """No more inputs: the engine task finishes its backlog and returns."""
        await self._send.aclose()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The engine task. Returns when every sender is closed and the inbox is drained."""
        task_status.started()
        async with self._recv:
            while True:
                batch: list[tuple[Input, Ack]] = []
                with trio.move_on_after(self.tick_s if math.isfinite(self.tick_s) else 1e9):
                    try:
                        batch.append(await self._recv.receive())
                    except trio.EndOfChannel:
                        break
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self._recv.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._apply(batch)
        await self._advance()

    async def _apply(self, batch: list[tuple[Input, Ack]]) -> None:
        engine = self.engine
        for item, ack in batch:
            try:
                # Timers due before this input run first: a period close at t precedes
                # commands and usage at t, as in simulation.
                engine.run_until(item.at_us, item.phase - 1)
                ack.accepted = engine.submit(item)
                ack.duplicate = not ack.accepted
                engine.run_until(item.at_us, item.phase)
            except InputError as exc:
                ack.error = str(exc)
        await self._advance()
        for _, ack in batch:
            ack.event.set()
        self.batches += 1

    async def _advance(self) -> None:
        now = min(self.clock.now_us(), self.engine.horizon)
        if now >= self.engine.now:
            self.engine.run_until(now, 2 if now == self.engine.horizon else 6)
        await trio.to_thread.run_sync(self.engine.book.flush)

    async def finish(self) -> None:
        """Run every remaining timer up to the horizon (end of a replay) and commit."""
        self.engine.run()
        await trio.to_thread.run_sync(self.engine.book.flush)
