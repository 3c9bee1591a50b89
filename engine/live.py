"""Live mode: the same engines fed from Trio inboxes and advanced by a clock.

Accounts in different trees share no state, so each account tree gets its own engine and its
own inbox task, and trees run concurrently. Inside a tree one task applies inputs in arrival
order, which is what keeps shared-commit drawdown race-free however many producers send at
once. Every tree posts into the one Book; a single writer task commits what is queued in one
SQLite transaction per round, in a worker thread, and an input is acknowledged only once the
batch holding it is durable."""

from __future__ import annotations

import math

import trio
from meterbook.actors import Customer
from meterbook.engine.build import Input
from meterbook.engine.clock import Clock
from meterbook.engine.errors import InputError
from meterbook.engine.runtime import Engine
from meterbook.engine.trees import account_trees
from meterbook.ledger import Book
from meterbook.scenarios import format as fmt


class Ack:
    """The answer to one submitted input, set once it is applied and durable (or refused)."""

    __slots__ = ("accepted", "duplicate", "error", "event")

    def __init__(self) -> None:
        self.accepted = False
        self.duplicate = False
        self.error: str | None = None
        self.event = trio.Event()


class LiveRunner:
    """Routes inputs to per-tree engine tasks; `submit` returns once the input is durable."""

    def __init__(self, scenario: fmt.Scenario, book: Book, clock: Clock, *, max_batch: int = 1_000,
                 inbox: int = 10_000, tick_s: float = 1.0) -> None:
        self.book = book
        self.clock = clock
        self.max_batch = max_batch
        self.tick_s = tick_s if math.isfinite(tick_s) else 1e9
        self.engines = [Engine(scenario, book, only=tree) for tree in account_trees(scenario)]
        self.route = {cid: i for i, e in enumerate(self.engines) for cid in e.customers}
        channels = [trio.open_memory_channel[tuple[Input, Ack]](inbox) for _ in self.engines]
        self._sends = [s for s, _ in channels]
        self._recvs = [r for _, r in channels]
        self.seen: set[str] = set()
        self.duplicates = 0
        self.batches = 0
        self.committed = book.last_posted
        self._wake = trio.Event()
        self._committed = trio.Event()
        self._running = 0

    def customer(self, customer_id: str) -> Customer:
        """The actor of one customer, whichever tree task owns it."""
        return self.engines[self.route[customer_id]].customers[customer_id]

    async def submit(self, item: Input) -> Ack:
        """Apply one input exactly once; a repeated id is acknowledged and ignored."""
        ack = Ack()
        if item.input_id in self.seen:
            self.duplicates += 1
            ack.duplicate = True
            return ack
        if item.target and item.target not in self.route:
            ack.error = f"{item.path}: unknown customer {item.target!r}"
            return ack
        self.seen.add(item.input_id)
        # Catalog changes (target "") reach every tree; customer inputs reach their own.
        targets = [self.route[item.target]] if item.target else range(len(self.engines))
        acks = [ack] + [Ack() for _ in list(targets)[1:]]
        for i, a in zip(targets, acks, strict=True):
            await self._sends[i].send((item, a))
        for a in acks:
            await a.event.wait()
        errors = [a.error for a in acks if a.error]
        if errors:
            ack.error = errors[0]
            self.seen.discard(item.input_id)  # refused: the same id may come again, corrected
        ack.accepted = not errors
        return ack

    async def close(self) -> None:
        """No more inputs: tree tasks finish their backlog, the writer commits, serve returns."""
        for s in self._sends:
            await s.aclose()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the writer and one task per tree until `close`."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer)
            self._running = len(self.engines)
            for engine, recv in zip(self.engines, self._recvs, strict=True):
                nursery.start_soon(self._tree, engine, recv)
            task_status.started()

    async def _tree(self, engine: Engine, recv: trio.MemoryReceiveChannel) -> None:
        try:
            async with recv:
                while True:
                    batch: list[tuple[Input, Ack]] = []
                    with trio.move_on_after(self.tick_s):
                        try:
                            batch.append(await recv.receive())
                        except trio.EndOfChannel:
                            break
                    while len(batch) < self.max_batch:
                        try:
                            batch.append(recv.receive_nowait())
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break
                    self._apply(engine, batch)
                    await self._durable(self.book.last_posted)
                    for _, ack in batch:
                        ack.event.set()
                    self.batches += 1
            self._advance(engine)
            await self._durable(self.book.last_posted)
        finally:
            self._running -= 1
            self._wake.set()

    def _apply(self, engine: Engine, batch: list[tuple[Input, Ack]]) -> None:
        """Apply a batch in arrival order. Synchronous on purpose: no other task of this tree
        can run in between, so every draw sees the balances the previous one left."""
        for item, ack in batch:
            try:
                # Timers due before this input run first, as in simulation.
                engine.run_until(item.at_us, item.phase - 1)
                ack.accepted = engine.submit(item)
                ack.duplicate = not ack.accepted
                engine.run_until(item.at_us, item.phase)
            except InputError as exc:
                ack.error = str(exc)
        self._advance(engine)

    def _advance(self, engine: Engine) -> None:
        now = min(self.clock.now_us(), engine.horizon)
        if now >= engine.now:
            engine.run_until(now, 2 if now == engine.horizon else 6)

    async def _durable(self, mark: int) -> None:
        """Wait until every transaction up to `mark` is committed."""
        while self.committed < mark:
            self._wake.set()
            await self._committed.wait()

    async def _writer(self) -> None:
        book = self.book
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while book.pending or book.last_posted > self.committed:
                mark = book.last_posted
                batch = book.take_batch()
                await trio.to_thread.run_sync(book.write, batch)
                self.committed = mark
                done, self._committed = self._committed, trio.Event()
                done.set()
            if self._running == 0:
                return

    async def finish(self) -> None:
        """After `serve` returned: run every tree to the horizon (end of a replay) and commit."""
        for engine in self.engines:
            engine.run()
