"""The double-entry book: accounts, balanced transactions, batched commits, balances."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec
import sqlite_utils

from meterbook.ledger.digest import Digest
from meterbook.ledger.errors import LedgerError, require
from meterbook.ledger.replay import check_no_more, compare_stored
from meterbook.ledger.rows import AccountRow, UnitRow, typed
from meterbook.ledger.schema import schema_sql, table_problems, trigger_problems

__all__ = ["ACCOUNT_TYPES", "CREDIT_NORMAL", "MAX_UNITS", "Batch", "Book", "schema_sql"]

ACCOUNT_TYPES = ("asset", "liability", "revenue", "expense", "equity")
CREDIT_NORMAL = frozenset(("liability", "revenue", "equity"))

# The largest absolute amount of one leg, and the largest sum of one transaction's positive legs
# in one unit, in ledger units (10**-scale of the unit). SQLite keeps INTEGER in 64 bits
# (|x| < 9.22e18): the bound leaves room for an account to sum ~92 full-size legs before SUM()
# overflows. At scale 9 it is 10**8 whole units per leg; at scale 8 (USD), $10**9.
MAX_UNITS = 10**17

# A row of `transactions` (id, idempotency key, at_us, kind, cause) and one of `postings`
# (transaction id, account id, unit, amount): plain tuples, because the hot path hands them
# to executemany as they are.
TxnRow = tuple[int, str, int, str, str]
PostingRow = tuple[int, int, str, int]
# A journal row as executemany takes it: (input_id, arrival_us, kind, body).
InputRow = tuple[str, int, str, str]

# A snapshot row: (journal_seq, last_txn, txn_digest, posting_digest, state).
SnapshotRow = tuple[int, int, str, str, bytes]

# Keys or ids per IN (...) query: far below SQLite's limit on bound parameters.
_CHUNK = 500


class Batch(NamedTuple):
    """Everything one group commit writes, detached from the book by `take_batch`."""

    units: list[UnitRow]
    accounts: list[AccountRow]
    transactions: list[TxnRow]
    postings: list[PostingRow]
    inputs: Sequence[InputRow] = ()
    meta: Sequence[tuple[str, str]] = ()
    snapshot: Sequence[SnapshotRow] = ()


class StoredKey(msgspec.Struct, frozen=True):
    """A written transaction found by its idempotency key."""

    id: int
    key: str
    kind: str
    cause: str


# The indexes a bulk run builds at the end rather than row by row (see Book's `bulk`).
DEFERRED_INDEXES = ("postings_account",)

class Book:
    """One ledger file. Postings are queued in memory and written in one SQLite transaction
    per flush, so the hot path never pays a commit per event (DESIGN.md's table). Every
    SQLite failure surfaces as a LedgerError naming what was being written."""

    def __init__(self, path: str | Path, *, durable: bool = False, timeout: float = 5.0, bulk: bool = False) -> None:
        """Open (or create) the ledger at `path`; `timeout` is how long to wait for a lock
        another connection holds. Refuses a file that is not a ledger of this schema.

        `bulk` (a simulation writing a whole ledger at once): the index of postings by account,
        which only balance queries use, is built once at the end (`build_indexes`, or `close`)
        instead of being kept up to date on every posting (~7 us a transaction, measured in
        docs/performance.md). No invariant depends on it; balances read before it is rebuilt
        are still exact, only slower. (Deferring the journal's unique index of input ids the
        same way was measured slower at a million inputs: building it at the end costs more
        than keeping it.)"""
        self.path = str(path)
        self.bulk = bulk
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=timeout)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from exc
        self.conn = conn
        self.keys: set[str] = set()
        self._new_units: list[UnitRow] = []
        self._new_accounts: list[AccountRow] = []
        self._txns: list[TxnRow] = []
        self._postings: list[PostingRow] = []
        self._inputs: list[InputRow] = []
        self._meta: dict[str, str] = {}
        self._snapshot: list[SnapshotRow] = []
        # Journal keys queued or being written: the only ids dedupe keeps in memory; once a
        # batch is committed, its ids are found through the journal's unique index.
        self._unwritten: set[str] = set()
        self._all_ids = False
        self._reader: sqlite3.Connection | None = None
        self._absent: set[str] = set()
        self.replaying = False
        try:
            self.db = sqlite_utils.Database(conn)
            self._prepare(durable)
            self._load()
        except (sqlite3.Error, msgspec.ValidationError) as exc:
            conn.close()
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from exc
        except LedgerError:
            conn.close()
            raise

    def _prepare(self, durable: bool) -> None:
        """Check an existing file's tables, set the connection up, create what is missing, and
        check the triggers the file already had (CREATE IF NOT EXISTS would keep a changed one)."""
        if self.db.table_names():
            problems = table_problems(self.db)
            require(not problems, f"cannot open ledger {self.path}: {'; '.join(problems)}")
        conn = self.conn
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        # Index pages of a large ledger must stay cached, or every insert becomes a read.
        conn.execute("PRAGMA cache_size=-262144")
        # One SQLite transaction: a process killed while it creates a new file leaves none of
        # the tables (the next open creates them all), never some of them (which every later
        # open would refuse as "not a meterbook ledger", so a live runner could never restart).
        # Deferred: opening a file that has them all writes nothing and takes no write lock.
        try:
            self.db.executescript(f"BEGIN;\n{schema_sql()}\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        problems = trigger_problems(self.db)
        require(not problems, f"cannot open ledger {self.path}: {'; '.join(problems)}")
        if self.bulk:
            for index in DEFERRED_INDEXES:
                conn.execute(f"DROP INDEX IF EXISTS {index}")

    def _load(self) -> None:
        """Read units and accounts into memory and find where transaction ids continue."""
        units = typed(self.db["units"].rows_where(select="unit, scale, decimals"), UnitRow)
        self.units: dict[str, UnitRow] = {u.unit: u for u in units}
        accounts = typed(self.db["accounts"].rows_where(select="id, name, type, unit", order_by="id"), AccountRow)
        self.accounts: dict[str, AccountRow] = {a.name: a for a in accounts}
        self.account_units: dict[int, str] = {a.id: a.unit for a in self.accounts.values()}
        self.next_account = 1 + max((a.id for a in self.accounts.values()), default=0)
        self.next_txn = 1 + self._one_int("SELECT COALESCE(MAX(id), 0) AS value FROM transactions", (), "opening")
        self.journal_seq = self._one_int("SELECT COALESCE(MAX(seq), 0) AS value FROM inputs", (), "opening")
        # The running digest of the rows written (ledger/digest.py), for snapshots: known from
        # the start on a new file, after a replay on an existing one; a bulk run keeps none.
        self.digest: Digest | None = Digest() if self.next_txn == 1 and not self.bulk else None
        # A bulk run (a simulation) on a file with no journal yet sees every id it will ever
        # hold: it keeps them all (bounded by the scenario) rather than asking the index per
        # input, which costs ~7 us a lookup (measured in docs/performance.md).
        self._all_ids = self.bulk and self._one_int("SELECT COUNT(*) AS value FROM inputs", (), "opening") == 0

    # -- units and accounts -------------------------------------------------------------
    def unit(self, unit: str, scale: int, decimals: int) -> None:
        """Declare a unit with its ledger scale (stored decimals) and display decimals."""
        known = self.units.get(unit)
        if known is not None:
            require((known.scale, known.decimals) == (scale, decimals), f"unit {unit} redeclared as {scale}/{decimals}")
            return
        row = UnitRow(unit, scale, decimals)
        self.units[unit] = row
        self._new_units.append(row)

    def account(self, name: str, type_: str, unit: str) -> int:
        """The id of an account, opening it on first use."""
        known = self.accounts.get(name)
        if known is not None:
            require((known.type, known.unit) == (type_, unit), f"account {name} reopened as {type_}/{unit}")
            return known.id
        require(type_ in ACCOUNT_TYPES, f"account {name}: unknown type {type_}")
        require(unit in self.units, f"account {name}: unknown unit {unit}")
        row = AccountRow(self.next_account, name, type_, unit)
        self.next_account += 1
        self.accounts[name] = row
        self.account_units[row.id] = unit
        self._new_accounts.append(row)
        return row.id

    # -- posting ------------------------------------------------------------------------
    def post(self, key: str, at_us: int, kind: str, cause: str, legs: Sequence[tuple[int, int]]) -> int:
        """Queue one balanced transaction of (account id, signed amount) legs; returns its id.
        Zero legs are dropped; a transaction that nets to nothing is not written at all.
        Refuses an unknown account, an unbalanced unit, a leg or a unit's positive legs beyond
        MAX_UNITS, and an idempotency key queued already (`write` refuses one written before)."""
        units = self.account_units
        sums: dict[str, int] = {}
        # A leg above MAX_UNITS / len(legs) sends the transaction to the exact check. Below it,
        # no unit's positive legs (at most len(legs) of them) can sum past MAX_UNITS, and a
        # balanced unit's negative legs sum to its positive ones: every leg is bounded, for one
        # comparison per leg and no arithmetic.
        limit = MAX_UNITS // (len(legs) or 1)
        large = False
        try:
            for account_id, amount in legs:
                if amount:
                    unit = units[account_id]
                    sums[unit] = sums.get(unit, 0) + amount
                    if amount > limit:
                        large = True
        except KeyError as exc:
            raise LedgerError(f"transaction {key} ({kind}) names unknown account {exc.args[0]}", cause) from None
        if not sums:
            return 0
        for unit, total in sums.items():
            if total:
                raise LedgerError(f"transaction {key} ({kind}) unbalanced in {unit} by {total}", cause)
        if large:
            self._check_magnitudes(key, kind, cause, legs)
        if key in self.keys:
            raise LedgerError(f"duplicate idempotency key {key}", cause)
        self.keys.add(key)
        ident = self.next_txn
        self.next_txn += 1
        self._txns.append((ident, key, at_us, kind, cause))
        append = self._postings.append
        for account_id, amount in legs:
            if amount:
                append((ident, account_id, units[account_id], amount))
        return ident

    def _check_magnitudes(self, key: str, kind: str, cause: str, legs: Sequence[tuple[int, int]]) -> None:
        """Slow path of `post`, reached only by a transaction with a leg above MAX_UNITS divided
        by its number of legs: refuse a leg beyond the bound, then a unit whose positive legs
        sum beyond it (balanced, that sum also bounds the unit's negative legs)."""
        for account_id, amount in legs:
            if abs(amount) > MAX_UNITS:
                name = next(a.name for a in self.accounts.values() if a.id == account_id)
                raise LedgerError(f"transaction {key} ({kind}): amount {amount} on account {name} is beyond "
                                  f"the ledger bound MAX_UNITS = {MAX_UNITS:_}", cause)
        debits: dict[str, int] = {}
        for account_id, amount in legs:
            if amount > 0:
                unit = self.account_units[account_id]
                debits[unit] = debits.get(unit, 0) + amount
        for unit, total in debits.items():
            if total > MAX_UNITS:
                raise LedgerError(f"transaction {key} ({kind}): its positive legs in {unit} sum to {total}, beyond "
                                  f"the ledger bound MAX_UNITS = {MAX_UNITS:_}", cause)

    # -- the journal --------------------------------------------------------------------
    def journal(self, input_id: str, arrival_us: int, kind: str, body: str) -> None:
        """Queue one accepted input for the journal, written with the postings queued beside it."""
        self._inputs.append((input_id, arrival_us, kind, body))
        self._unwritten.add(input_id)
        self.journal_seq += 1

    def journaled(self, input_id: str) -> bool:
        """Whether an input of this id was accepted before: queued, being written, or in the
        journal (its unique index answers; no set of every id ever seen is kept)."""
        if input_id in self._unwritten:
            return True
        if self._all_ids or input_id in self._absent:
            return False
        try:
            # fetchall runs the statement to its end, so no read transaction stays open
            return bool(self._lookup().execute("SELECT 1 FROM inputs WHERE input_id = ?", (input_id,)).fetchall())
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: looking up input {input_id} failed: {exc}") from exc

    def prefetch(self, input_ids: Sequence[str]) -> None:
        """Look a round's input ids up in the journal at once (a query per 500 rather than one
        per input: ~36 us each live, measured in docs/performance.md), so `journaled` answers
        the absent ones from memory until the next prefetch."""
        wanted = sorted(set(input_ids) - self._unwritten)
        found: set[str] = set()
        try:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                rows = self._lookup().execute(
                    f"SELECT input_id FROM inputs WHERE input_id IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
                found.update(str(row[0]) for row in rows)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: looking up {len(wanted)} inputs failed: {exc}") from exc
        self._absent = set(wanted) - found

    def _lookup(self) -> sqlite3.Connection:
        """The connection dedupe reads the journal through: a second one on a file, so a
        lookup never waits on (or joins) a batch another thread is writing; WAL lets it read
        what is committed meanwhile, and the ids in flight are in `_unwritten`."""
        if self._reader is None:
            self._reader = (self.conn if self.path == ":memory:" else
                            sqlite3.connect(self.path, check_same_thread=False, isolation_level=None))
        return self._reader

    def written(self, batch: Batch) -> None:
        """A batch taken with `take_batch` is committed: its input ids are now in the journal."""
        if not self._all_ids:
            self._unwritten.difference_update(row[0] for row in batch.inputs)

    def make_durable(self) -> None:
        """Every commit from now on waits for the disk (`synchronous=FULL`): what a live runner
        acknowledges survives a power cut, not only a crash of the process."""
        try:
            self.conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: setting synchronous=FULL failed: {exc}") from exc

    # -- restart by replay ------------------------------------------------------------------
    def start_replay(self, after_txn: int = 0, digest: Digest | None = None) -> None:
        """From now on until `end_replay`, batches are compared with the stored ledger instead
        of written (ledger/replay.py): the engine recomputes the file from its journal,
        transaction ids from 1 (or, from a snapshot, from `after_txn` + 1, the stored rows
        before having been found to hash to `digest`), and a single difference refuses the
        restart."""
        require(not self.pending and not self._inputs, "replay must start on an empty queue")
        self.replaying = True
        self.next_txn = after_txn + 1
        self.digest = digest if digest is not None else Digest()

    def end_replay(self) -> None:
        """The journal is replayed: compare the rest, check nothing more is stored, and write
        from here on."""
        self.flush()
        check_no_more(self)
        self.replaying = False

    # -- snapshots (the `snapshots` table) -----------------------------------------------
    def set_snapshot(self, state: bytes) -> None:
        """Queue a snapshot of the actors' state, to be written with the next batch. Call it
        only with nothing queued or in flight (a live runner's sequencer waits for its
        rounds to be committed first), so it describes exactly the rows written so far."""
        require(self.digest is not None and not self.pending and not self._inputs,
                "a snapshot needs a known digest and nothing queued")
        assert self.digest is not None
        txn_digest, posting_digest = self.digest.hexdigests()
        self._snapshot = [(self.journal_seq, self.next_txn - 1, txn_digest, posting_digest, state)]

    def stored_snapshot(self) -> SnapshotRow | None:
        """The latest snapshot stored, if any."""
        try:
            row = self.conn.execute("SELECT journal_seq, last_txn, txn_digest, posting_digest, state FROM snapshots "
                                    "WHERE id = 1").fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: reading its snapshot failed: {exc}") from exc
        return None if row is None else (int(row[0]), int(row[1]), str(row[2]), str(row[3]), bytes(row[4]))

    # -- run settings (the `meta` table) ------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        """Queue a run setting (currency, start, grace, how far timers have fired), written
        in the same SQLite transaction as the next batch: it is true of exactly that ledger."""
        self._meta[key] = value

    def meta(self, key: str) -> str | None:
        """A run setting: the queued value, else the stored one, else None."""
        if key in self._meta:
            return self._meta[key]
        try:
            rows = list(self.db.query("SELECT value FROM meta WHERE key = ?", (key,)))
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: reading setting {key} failed: {exc}") from exc
        return str(rows[0]["value"]) if rows else None

    @property
    def pending(self) -> int:
        """How many transactions wait for the next flush."""
        return len(self._txns)

    @property
    def last_posted(self) -> int:
        """Id of the newest transaction posted (queued or written)."""
        return self.next_txn - 1

    def take_batch(self) -> Batch:
        """Detach everything queued, for a writer that commits it with `write` elsewhere (a
        worker thread): posting may go on meanwhile, into a fresh queue."""
        batch = Batch(self._new_units, self._new_accounts, self._txns, self._postings, self._inputs,
                      tuple(self._meta.items()), self._snapshot)
        self._new_units, self._new_accounts, self._txns, self._postings, self._inputs = [], [], [], [], []
        self._meta = {}
        self._snapshot = []
        self.keys = set()
        return batch

    def write(self, batch: Batch) -> None:
        """One SQLite transaction: open the transactions, add their postings, seal them. On
        any SQLite failure the whole batch is rolled back and a LedgerError names it.
        Replaying (a restart), nothing is written: the batch is compared with what is stored."""
        if self.replaying:
            compare_stored(self, batch)
            if self.digest is not None:
                self.digest.update(batch.transactions, batch.postings)
            return
        units, accounts, txns, postings, inputs, meta, snapshot = batch
        try:
            self._insert(units, accounts, txns, postings, inputs, meta, snapshot)
        except sqlite3.IntegrityError as exc:
            if "inputs.input_id" in str(exc):
                raise LedgerError(f"ledger {self.path}: an input of this batch is journaled already "
                                  f"(exactly-once broken upstream): {exc}") from exc
            if "idempotency_key" in str(exc):
                raise self._duplicate(txns, exc) from exc
            raise self._refused(txns, accounts, exc) from exc
        except sqlite3.Error as exc:
            raise self._refused(txns, accounts, exc) from exc
        if self.digest is not None:
            self.digest.update(txns, postings)

    def _insert(self, units: list[UnitRow], accounts: list[AccountRow], txns: list[TxnRow],
                postings: list[PostingRow], inputs: Sequence[InputRow],
                meta: Sequence[tuple[str, str]] = (), snapshot: Sequence[SnapshotRow] = ()) -> None:
        """The statements of one group commit, rolled back whole if any fails: the journal
        rows and the postings they caused land together or not at all."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT INTO inputs (input_id, arrival_us, kind, body) VALUES (?, ?, ?, ?)", inputs)
            conn.executemany("INSERT INTO units (unit, scale, decimals) VALUES (?, ?, ?)",
                             [msgspec.structs.astuple(u) for u in units])
            conn.executemany("INSERT INTO accounts (id, name, type, unit) VALUES (?, ?, ?, ?)",
                             [msgspec.structs.astuple(a) for a in accounts])
            conn.executemany(
                "INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (?, ?, ?, ?, ?)", txns)
            conn.executemany(
                "INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (?, ?, ?, ?)", postings)
            if txns:
                (first_id, *_), (last_id, *_) = txns[0], txns[-1]
                conn.execute("INSERT INTO seals (last_id, first_id) VALUES (?, ?)", (last_id, first_id))
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta)
            conn.executemany("INSERT OR REPLACE INTO snapshots (id, journal_seq, last_txn, txn_digest, "
                             "posting_digest, state) VALUES (1, ?, ?, ?, ?, ?)", snapshot)
            conn.execute("COMMIT")
        except BaseException:
            # Some failures (a full disk, an I/O error) end the transaction inside SQLite.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _refused(self, txns: list[TxnRow], accounts: list[AccountRow], exc: sqlite3.Error) -> LedgerError:
        """The error for a batch SQLite refused: its message, and the batch's first and last
        transaction (or how many accounts it opened, when it held no transaction)."""
        if not txns:
            return LedgerError(f"ledger {self.path}: SQLite refused opening {len(accounts)} accounts, "
                               f"rolled back: {exc}")
        (first_id, first_key, _, _, first_cause), (last_id, last_key, _, _, last_cause) = txns[0], txns[-1]
        return LedgerError(f"ledger {self.path}: SQLite refused transactions {first_id}-{last_id}, rolled back: {exc}",
                           f"{first_key} for {first_cause} .. {last_key} for {last_cause}")

    def _duplicate(self, txns: list[TxnRow], exc: sqlite3.Error) -> LedgerError:
        """The error for a batch refused by the UNIQUE index of idempotency keys, naming the
        key: after the rollback, the batch's keys found in the ledger were written before."""
        keys = [key for _, key, _, _, _ in txns]
        stored: dict[str, StoredKey] = {}
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start:start + _CHUNK]
                rows = self.db.query("SELECT id, idempotency_key AS key, kind, cause FROM transactions "
                                     f"WHERE idempotency_key IN ({', '.join('?' * len(chunk))})", chunk)
                stored.update((s.key, s) for s in typed(rows, StoredKey))
        except sqlite3.Error:
            return self._refused(txns, [], exc)
        (first_id, *_), (last_id, *_) = txns[0], txns[-1]
        seen: dict[str, int] = {}
        for ident, key, _, kind, cause in txns:
            old = stored.get(key)
            if old is not None:
                return LedgerError(f"duplicate idempotency key {key}: transaction {ident} ({kind}) repeats "
                                   f"transaction {old.id} ({old.kind}, for {old.cause}) already in the ledger; "
                                   f"transactions {first_id}-{last_id} rolled back", cause)
            if key in seen:
                return LedgerError(f"duplicate idempotency key {key}: transactions {seen[key]} and {ident} "
                                   f"({kind}) of one batch; transactions {first_id}-{last_id} rolled back", cause)
            seen[key] = ident
        return self._refused(txns, [], exc)

    def flush(self) -> None:
        """Write everything queued in one SQLite transaction (group commit)."""
        if self._txns or self._new_accounts or self._new_units or self._inputs or self._meta or self._snapshot:
            batch = self.take_batch()
            self.write(batch)
            self.written(batch)

    # -- reading ------------------------------------------------------------------------
    def _one_int(self, sql: str, params: Sequence[object], what: str) -> int:
        """The integer a one-row query computes in its column `value`; `what` names the
        reading in the LedgerError raised if SQLite fails."""
        try:
            (row,) = self.db.query(sql, params)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: {what} failed: {exc}") from exc
        return int(row["value"])

    def balance(self, name: str, at_us: int | None = None) -> int:
        """The signed sum of an account's postings up to and including `at_us`."""
        self.flush()
        known = self.accounts.get(name)
        if known is None:
            return 0
        if at_us is not None:
            return self.balances([known.id], at_us)
        return self._one_int("SELECT COALESCE(SUM(amount), 0) AS value FROM postings WHERE account_id = ?",
                             (known.id,), f"balance of {name}")

    def balances(self, account_ids: Sequence[int], at_us: int) -> int:
        """The signed sum of the postings of several accounts (each counted once) in
        transactions up to and including `at_us`: a customer's grants, for results."""
        self.flush()
        ids = sorted(set(account_ids))
        total = 0
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            total += self._one_int(
                "SELECT COALESCE(SUM(p.amount), 0) AS value FROM postings p JOIN transactions t "
                f"ON t.id = p.transaction_id WHERE p.account_id IN ({', '.join('?' * len(chunk))}) AND t.at_us <= ?",
                (*chunk, at_us), f"balance of accounts {chunk[0]}..{chunk[-1]}")
        return total

    def build_indexes(self) -> None:
        """Flush, and build the index a bulk run deferred (the schema's own DDL, so the file
        ends exactly as any other ledger)."""
        self.flush()
        if self.bulk:
            try:
                self.db.executescript(schema_sql())
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.path}: building indexes failed: {exc}") from exc
            self.bulk = False

    def close(self) -> None:
        """Flush and close; WAL is checkpointed so the file stands alone. The connection is
        closed even when the flush fails."""
        if self._reader is not None and self._reader is not self.conn:
            self._reader.close()
        self._reader = None
        try:
            self.build_indexes()
            if self.path != ":memory:":
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: closing failed: {exc}") from exc
        finally:
            self.conn.close()
