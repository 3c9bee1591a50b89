"""Live mode: the runtime's seam fed from Trio inboxes, stamped and advanced by a clock.

A live ledger starts empty and learns everything (credit types, products, rate cards,
packages, customers) from create inputs, so its journal is a scenario: the same inputs, in
journal order, at their stamped instants. That requires one total order, so one task, the
sequencer, owns the one runtime: it stamps each input with its arrival instant, applies it,
and fires the timers the clock has passed. Trees of accounts need no tasks of their own
(one router already makes draws across a tree race-free, and a tree joining another is
just a `set_parent`); docs/architecture.md says why one order and not one task per tree.
A writer task commits what each round queued in one SQLite transaction (group commit, in a
worker thread); an input is acknowledged only once that transaction is durable.

Opening a runner on a file that has a journal restarts it: the journal is replayed through
the engine without writing, every batch compared with what is stored (ledger/replay.py);
a difference refuses the start and names the first differing transaction."""

from __future__ import annotations

import math
import sqlite3
from collections import deque
from collections.abc import Iterator

import msgspec
import trio

from meterbook.actors import Customer
from meterbook.actors.catalog import FOREVER, Catalog
from meterbook.actors.messages import Phase
from meterbook.engine import inputs as ins
from meterbook.engine import snapshots
from meterbook.engine.clock import Clock
from meterbook.engine.runtime import Runtime, cause_of, quiet_gc
from meterbook.engine.settings import CURRENCY, END_US, RunSettings, SettingsError, read_settings, record
from meterbook.errors import LedgerError, ReplayMismatch
from meterbook.ledger import Book
from meterbook.ledger.digest import stored_digest

LIVE_GRACE_SECONDS = 3600
_AHEAD = 2  # rounds the sequencer may apply beyond the last commit (memory stays bounded)
# Inputs between snapshots: a restart replays at most this many (~17 s at 1M inputs, plus ~9 s
# to check the rows before the snapshot and load it), and each snapshot pauses the sequencer
# while it pickles (~3.5 s for 10k customers). Figures in docs/performance.md.
SNAPSHOT_EVERY = 200_000  # SCENARIOS.md "Live time": the live default
_DECODE = msgspec.json.Decoder(ins.AnyInput).decode


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
        """Its id was accepted before (maybe before a restart): acknowledged, nothing done."""
        return self.answer is not None and self.answer.status == "duplicate"

    @property
    def error(self) -> str | None:
        """Why it was refused (`input ID: FIELD: reason`), or None."""
        a = self.answer
        if a is None or a.status != "refused":
            return None
        return f"input {a.input_id}: {a.field}: {a.reason}"


def settings_of(book: Book, currency: str, grace_seconds: int, now_us: int) -> RunSettings:
    """The file's settings (engine/settings.py); a new file takes the ones given and starts
    now. A file created with other settings is refused rather than silently reinterpreted."""
    if book.meta(CURRENCY) is None:
        settings = RunSettings(name="live", seed=0, currency=currency, start_us=now_us, end_us=None,
                               grace_seconds=grace_seconds)
        record(book, settings)
        return settings
    try:
        settings = read_settings(book.conn)
    except SettingsError as exc:
        raise LedgerError(f"ledger {book.path}: {exc}") from None
    if (settings.currency, settings.grace_seconds) != (currency, grace_seconds):
        raise LedgerError(f"ledger {book.path} was created with currency {settings.currency} and grace "
                          f"{settings.grace_seconds} s, not {currency} and {grace_seconds} s")
    return settings


def journal_rows(book: Book, after_seq: int = 0) -> Iterator[tuple[int, str, str]]:
    """The journal in order, after entry `after_seq`: (sequence, input id, body)."""
    try:
        yield from book.conn.execute("SELECT seq, input_id, body FROM inputs WHERE seq > ? ORDER BY seq",
                                     (after_seq,))
    except sqlite3.Error as exc:
        raise LedgerError(f"ledger {book.path}: reading the journal failed: {exc}") from exc


class LiveRunner:
    """One live ledger: `submit` returns once the input is durable (or refused)."""

    def __init__(self, book: Book, clock: Clock, *, currency: str = "USD",
                 grace_seconds: int = LIVE_GRACE_SECONDS, max_batch: int = 1_000, inbox: int = 10_000,
                 tick_s: float = 1.0, snapshot_every: int = SNAPSHOT_EVERY, use_snapshot: bool = True) -> None:
        """`snapshot_every`: inputs accepted between snapshots of the actors (0: none);
        `use_snapshot`: restart from the stored snapshot if it holds (else replay it all)."""
        self.book = book
        book.make_durable()  # an acknowledgement promises the input is on disk
        self.clock = clock
        self.max_batch = max_batch
        self.tick_s = tick_s if math.isfinite(tick_s) else 1e9
        self.settings = settings_of(book, currency, grace_seconds, clock.now_us())
        self.runtime = Runtime(Catalog.of_currency(self.settings.currency), {}, book, start=self.settings.start_us, horizon=FOREVER, autoflush=False,
                               grace_seconds=self.settings.grace_seconds)
        # The order inputs were stamped in: (instant, phase) of the last one applied (taken or
        # refused: both moved the engine), and the horizon, the instant up to which every
        # timer has fired (an input is always stamped after it).
        self.last = (self.settings.start_us, int(Phase.CATALOG))
        self.advanced = self.settings.start_us - 1
        self.snapshot_every = snapshot_every
        self.use_snapshot = use_snapshot
        self.from_snapshot = False  # whether the restart began from a snapshot
        self.snapshots = 0
        self._since_snapshot = 0
        self.replayed = self._restart()
        # One message per submit (a producer's batch goes as one); `inbox` of them may wait.
        self._send, self._recv = trio.open_memory_channel[list[tuple[ins.Input, Ack]]](inbox)
        self.duplicates = 0
        self.rounds = 0
        self.written_round = 0
        self._wake = trio.Event()
        self._committed = trio.Event()
        self._unacked: deque[tuple[int, list[Ack]]] = deque()
        self._done = False
        self._failed = False

    # -- restart ------------------------------------------------------------------------------
    def _restart(self) -> int:
        """Rebuild every actor from the journal (after the stored snapshot, when its rows still
        hash as recorded), comparing what it computes with what is stored; returns how many
        inputs were replayed."""
        book = self.book
        advanced = book.meta(END_US)
        if advanced is None and book.last_posted == 0 and book.journal_seq == 0:
            return 0  # a new file: nothing to rebuild
        after_seq = self._from_snapshot()
        rt = self.runtime
        rt.autoflush = True  # compare in batches as it goes: memory stays flat
        count = 0
        with quiet_gc():
            for seq, input_id, body in journal_rows(book, after_seq):
                try:
                    item = _DECODE(body)
                except msgspec.DecodeError as exc:
                    raise ReplayMismatch(f"ledger {book.path}: journal entry {seq} ({input_id}) cannot be "
                                         f"read: {exc}") from exc
                rt.advance_to(item.at_us, item.phase)
                answer = rt.apply(item, replay=True)
                if answer.status != "accepted":
                    raise ReplayMismatch(f"ledger {book.path} does not match its journal: entry {seq} "
                                         f"({input_id}) is refused on replay: {answer.field}: {answer.reason}")
                self.last = (item.at_us, int(item.phase))
                count += 1
            if advanced is not None and int(advanced) >= rt.now:
                rt.advance_to(int(advanced))
                self.advanced = int(advanced)
        book.end_replay()
        rt.autoflush = False
        return count

    def _from_snapshot(self) -> int:
        """Start the replay: from the stored snapshot if there is one and the rows before it
        hash as it recorded (returns the journal entry it follows), else from the beginning."""
        book = self.book
        stored = book.stored_snapshot() if self.use_snapshot else None
        if stored is not None:
            journal_seq, last_txn, txn_digest, posting_digest, state = stored
            digest = stored_digest(book.conn, last_txn)
            if digest.hexdigests() == (txn_digest, posting_digest) and last_txn <= book.last_posted:
                self.runtime, runner = snapshots.load(state, book)
                self.last = (runner.last_at, runner.last_phase)
                self.advanced = runner.advanced
                book.start_replay(after_txn=last_txn, digest=digest)
                self.from_snapshot = True
                return journal_seq
            # Rows before the snapshot changed: replay it all, which names the first that differs.
        book.start_replay()
        return 0

    def _snapshot(self) -> None:
        """Queue a snapshot of the actors (called with every round committed)."""
        state = snapshots.RunnerState(last_at=int(self.last[0]), last_phase=int(self.last[1]),
                                      advanced=int(self.advanced))
        self.book.set_snapshot(snapshots.dump(self.runtime, state))
        self.snapshots += 1
        self._since_snapshot = 0

    # -- the API ------------------------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer:
        """The actor of one customer (read-only use)."""
        return self.runtime.customer(customer_id)

    async def submit(self, item: ins.Input) -> Ack:
        """Apply one input exactly once, stamped with its arrival; returns once it is durable
        (accepted, or a duplicate of an accepted one) or refused."""
        ack = Ack()
        await self._send.send([(item, ack)])
        await ack.event.wait()
        return ack

    async def submit_many(self, items: list[ins.Input]) -> list[Ack]:
        """Submit several inputs in order (a producer's batch, one channel hop); returns once
        all are answered. They share a round, and so a commit, unless the round is full."""
        acks = [Ack() for _ in items]
        await self._send.send(list(zip(items, acks, strict=True)))
        for ack in acks:
            await ack.event.wait()
        return acks

    async def close(self) -> None:
        """No more inputs: the sequencer finishes its backlog, fires the timers up to now,
        the writer commits, and `serve` returns."""
        await self._send.aclose()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the sequencer and the writer until `close`."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer)
            nursery.start_soon(self._sequencer)
            task_status.started()

    # -- the sequencer ------------------------------------------------------------------------
    async def _sequencer(self) -> None:
        recv = self._recv
        try:
            async with recv:
                while True:
                    batch: list[tuple[ins.Input, Ack]] = []
                    with trio.move_on_after(self.tick_s):
                        try:
                            batch += await recv.receive()
                        except trio.EndOfChannel:
                            break
                    while len(batch) < self.max_batch:
                        try:
                            batch += recv.receive_nowait()
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break
                    self._round(batch)
                    # Answered once the writer has committed this round; meanwhile the next
                    # round is applied (pipelined), but never more than two rounds ahead.
                    self._unacked.append((self.rounds, [ack for _, ack in batch]))
                    self._wake.set()
                    if self.rounds - self.written_round > _AHEAD:
                        await self._durable(self.rounds - _AHEAD)
                    if self.snapshot_every and self._since_snapshot >= self.snapshot_every:
                        await self._durable(self.rounds)  # the snapshot follows committed rows only
                        self._snapshot()
                        self.rounds += 1  # written as a round of its own
                        self._wake.set()
            # Closing: fire what the clock has passed, and at least past the last input, so
            # every input the file journaled lies before its horizon (`end_us`).
            self._advance(max(self.clock.now_us() - 1, self.last[0] + 1))
            self.rounds += 1
            await self._durable(self.rounds)
        except BaseException:
            # A round cut short (a bug, a cancellation) left part of an input queued: commit
            # nothing more. What was acknowledged is durable; a restart replays the journal.
            self._failed = True
            raise
        finally:
            self._done = True
            self._wake.set()

    def _round(self, batch: list[tuple[ins.Input, Ack]]) -> None:
        """Stamp and apply a batch in arrival order, then fire the timers the clock passed.
        Synchronous on purpose: nothing else runs in between, so every draw sees the balances
        the previous one left, and the writer takes whole rounds."""
        rt = self.runtime
        self.book.prefetch([cause_of(item) for item, _ in batch])
        for item, ack in batch:
            stamped = self._stamp(item)
            answer = rt.apply(stamped)
            if answer.status == "duplicate":
                self.duplicates += 1
            else:
                # A refused input, too, has fired the timers due before it (apply advances,
                # then validates): later inputs are ordered after it, as if it had been taken.
                self.last = max(self.last, (stamped.at_us, int(stamped.phase)))
                self._since_snapshot += answer.status == "accepted"
            ack.answer = answer
        self._advance(self.clock.now_us() - 1)
        self.rounds += 1

    def _stamp(self, item: ins.Input) -> ins.Input:
        """The input at its arrival instant: the clock's reading, but never before the last
        input or at an instant whose timers have all fired, and never at the last input's
        instant when its phase comes earlier (a replay orders one instant by phase)."""
        at = max(self.clock.now_us(), self.last[0], self.advanced + 1)
        if at == self.last[0] and int(item.phase) < self.last[1]:
            at += 1
        return item if item.at_us == at else msgspec.structs.replace(item, at_us=at)

    def _advance(self, to_us: int) -> None:
        """Fire every timer before an instant at or just after `to_us`, and record that instant
        as the file's horizon, in the same SQLite transaction as what the timers posted.

        A horizon `h` means: every timer before `h` has fired and none is set for `h` itself.
        A simulation ending at `h` (the journal exported) then fires exactly these, since it
        treats its end specially (no next period opens, nothing rolls over) and nothing lies
        on it. Timers fired can set new ones, so `h` is checked after firing those before it,
        and moved on by a microsecond while a timer sits on it. Nothing happens unless `to_us`
        lies after the last input and the last horizon."""
        if to_us <= self.last[0] or to_us <= self.advanced:
            return
        rt = self.runtime
        at = to_us  # after `last`, which counts refused inputs too: past everything fired
        rt.advance_to(at - 1)
        while rt.router.due_at(at):
            at += 1
            rt.advance_to(at - 1)
        rt.advance_to(at)
        self.advanced = at
        self.book.set_meta(END_US, str(at))

    # -- the writer ---------------------------------------------------------------------------
    async def _durable(self, mark: int) -> None:
        """Wait until every round up to `mark` is committed."""
        while self.written_round < mark:
            self._wake.set()
            await self._committed.wait()

    async def _writer(self) -> None:
        book = self.book
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self.written_round < self.rounds and not self._failed:
                mark = self.rounds
                batch = book.take_batch()
                if any(batch):  # a round that changed nothing commits nothing
                    await trio.to_thread.run_sync(book.write, batch)
                    book.written(batch)
                self.written_round = mark
                while self._unacked and self._unacked[0][0] <= mark:
                    for ack in self._unacked.popleft()[1]:
                        ack.event.set()
                done, self._committed = self._committed, trio.Event()
                done.set()
            if self._failed or (self._done and self.written_round >= self.rounds):
                return
