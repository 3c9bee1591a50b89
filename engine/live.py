"""Live mode: the same runtime seam fed from Trio inboxes and advanced by a clock.

Accounts in different trees share no state, so each account tree gets its own runtime and one
Trio task that owns it (its actors are called in-line inside that task: see
docs/architecture.md for why one task per tree and not one per actor, with figures). Inside
a tree the task applies inputs in arrival order, which is what keeps shared-commit drawdown
race-free however many producers send at once. Every tree posts into the one Book; a single
writer task commits what is queued in one SQLite transaction per round, in a worker thread,
and an input is acknowledged only once the batch holding it is durable."""

from __future__ import annotations

import math

import trio

from meterbook.actors import Customer
from meterbook.engine import inputs as ins
from meterbook.engine.clock import Clock
from meterbook.engine.from_scenario import build_catalog, customer_inputs, packages_of
from meterbook.engine.runtime import Runtime, cause_of
from meterbook.engine.trees import account_trees
from meterbook.errors import InvariantError
from meterbook.ledger import Book
from meterbook.scenarios import format as fmt

LIVE_GRACE_SECONDS = 3600
"""The grace a live server gives late usage (SCENARIOS.md "Live time"; files default to 0)."""

CATALOG_INPUTS = (ins.UpdateRate, ins.UpdatePackage, ins.CreateCreditType, ins.CreateProduct, ins.CreateRateCard,
                  ins.CreatePackage)


class Ack:
    """The answer to one submitted input, set once it is applied and durable (or refused)."""

    __slots__ = ("answer", "event")

    def __init__(self) -> None:
        self.answer: ins.Answer | None = None
        self.event = trio.Event()

    @property
    def accepted(self) -> bool:
        """Applied and durable."""
        return self.answer is not None and self.answer.status == "accepted"

    @property
    def duplicate(self) -> bool:
        """Its id was seen before: acknowledged, nothing done."""
        return self.answer is not None and self.answer.status == "duplicate"

    @property
    def error(self) -> str | None:
        """Why it was refused (`input ID: FIELD: reason`), or None."""
        a = self.answer
        if a is None or a.status != "refused":
            return None
        return f"input {a.input_id}: {a.field}: {a.reason}"


class LiveRunner:
    """Routes inputs to per-tree runtime tasks; `submit` returns once the input is durable."""

    def __init__(self, scenario: fmt.Scenario, book: Book, clock: Clock, *, max_batch: int = 1_000,
                 inbox: int = 10_000, tick_s: float = 1.0, grace_seconds: int | None = None) -> None:
        self.book = book
        self.clock = clock
        self.max_batch = max_batch
        self.tick_s = tick_s if math.isfinite(tick_s) else 1e9
        self.runtimes: list[Runtime] = []
        # Live time: a live server passes LIVE_GRACE_SECONDS; None keeps the scenario's (a
        # replay must settle periods exactly as the run it replays did).
        grace = scenario.grace_seconds if grace_seconds is None else grace_seconds
        for tree in account_trees(scenario):
            catalog = build_catalog(scenario)
            rt = Runtime(catalog, packages_of(catalog, scenario), book, start=scenario.start, horizon=scenario.end,
                         autoflush=False, grace_seconds=grace)
            for item in customer_inputs(catalog, scenario):
                if item.customer in tree:
                    answer = rt.apply(item)
                    if answer.status != "accepted":
                        raise InvariantError(f"declared customer {item.customer} refused: {answer.reason}")
            self.runtimes.append(rt)
        self.route = {cid: i for i, rt in enumerate(self.runtimes) for cid in rt.customers}
        channels = [trio.open_memory_channel[tuple[ins.Input, Ack, bool]](inbox) for _ in self.runtimes]
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
        return self.runtimes[self.route[customer_id]].customer(customer_id)

    def runtime_of(self, customer_id: str) -> Runtime:
        """The runtime (tree) a customer lives in."""
        return self.runtimes[self.route[customer_id]]

    async def submit(self, item: ins.Input) -> Ack:
        """Apply one input exactly once; a repeated id is acknowledged and ignored."""
        ack = Ack()
        key = cause_of(item)
        if key in self.seen:
            self.duplicates += 1
            ack.answer = ins.Answer(input_id=item.id, status="duplicate")
            return ack
        customer = getattr(item, "customer", None)
        if isinstance(item, ins.CreateCustomer) or (customer is not None and customer not in self.route):
            reason = ("creating customers live is not supported yet" if isinstance(item, ins.CreateCustomer)
                      else f"unknown customer {customer!r}")
            ack.answer = ins.Answer(input_id=item.id, status="refused", field="$.customer", reason=reason)
            return ack
        self.seen.add(key)
        # Catalog changes reach every tree; customer inputs reach their own.
        targets = (list(range(len(self.runtimes))) if isinstance(item, CATALOG_INPUTS)
                   else [self.route[str(customer)]])
        acks = [ack] + [Ack() for _ in targets[1:]]
        for n, (i, a) in enumerate(zip(targets, acks, strict=True)):
            await self._sends[i].send((item, a, n == 0))  # a catalog change is journaled once
        for a in acks:
            await a.event.wait()
        refused = next((a.answer for a in acks if a.error), None)
        if refused is not None:
            ack.answer = refused
            self.seen.discard(key)  # refused: the same id may come again, corrected
        return ack

    async def close(self) -> None:
        """No more inputs: tree tasks finish their backlog, the writer commits, serve returns."""
        for s in self._sends:
            await s.aclose()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the writer and one task per tree until `close`."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer)
            self._running = len(self.runtimes)
            for rt, recv in zip(self.runtimes, self._recvs, strict=True):
                nursery.start_soon(self._tree, rt, recv)
            task_status.started()

    async def _tree(self, rt: Runtime, recv: trio.MemoryReceiveChannel[tuple[ins.Input, Ack, bool]]) -> None:
        try:
            async with recv:
                while True:
                    batch: list[tuple[ins.Input, Ack, bool]] = []
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
                    self._apply(rt, batch)
                    await self._durable(self.book.last_posted)
                    for _, ack, _ in batch:
                        ack.event.set()
                    self.batches += 1
            self._advance(rt)
            await self._durable(self.book.last_posted)
        finally:
            self._running -= 1
            self._wake.set()

    def _apply(self, rt: Runtime, batch: list[tuple[ins.Input, Ack, bool]]) -> None:
        """Apply a batch in arrival order. Synchronous on purpose: no other task of this tree
        can run in between, so every draw sees the balances the previous one left."""
        for item, ack, journal in batch:
            rt.advance_to(min(item.at_us, rt.horizon), item.phase)
            ack.answer = rt.apply(item, journal=journal)
        self._advance(rt)

    def _advance(self, rt: Runtime) -> None:
        now = min(self.clock.now_us(), rt.horizon)
        if now >= rt.now:
            rt.advance_to(now)

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
        for rt in self.runtimes:
            rt.finish()
