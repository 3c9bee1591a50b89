"""The double-entry book: accounts, balanced transactions, batched commits, balances."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import sqlite_utils

from meterbook.ledger.errors import LedgerError, require

ACCOUNT_TYPES = ("asset", "liability", "revenue", "expense", "equity")
CREDIT_NORMAL = frozenset(("liability", "revenue", "equity"))


def schema_sql() -> str:
    """The DDL of the ledger, shipped beside this module."""
    return resources.files("meterbook.ledger").joinpath("schema.sql").read_text(encoding="utf-8")


class Book:
    """One ledger file. Postings are queued in memory and written in one SQLite transaction
    per flush, so the hot path never pays a commit per event (DESIGN.md's table)."""

    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self.path = str(path)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        # Index pages of a large ledger must stay cached, or every insert becomes a read.
        conn.execute("PRAGMA cache_size=-262144")
        conn.executescript(schema_sql())
        self.conn = conn
        self.units: dict[str, tuple[int, int]] = {
            row[0]: (row[1], row[2]) for row in conn.execute("SELECT unit, scale, decimals FROM units")
        }
        self.accounts: dict[str, tuple[int, str, str]] = {
            row[1]: (row[0], row[2], row[3])
            for row in conn.execute("SELECT id, name, type, unit FROM accounts")
        }
        self.account_units: dict[int, str] = {a[0]: a[2] for a in self.accounts.values()}
        self.next_account = 1 + max((a[0] for a in self.accounts.values()), default=0)
        last = conn.execute("SELECT MAX(id) FROM transactions").fetchone()[0]
        self.next_txn = 1 + (last or 0)
        self.keys: set[str] = set()
        self._new_units: list[tuple[str, int, int]] = []
        self._new_accounts: list[tuple[int, str, str, str]] = []
        self._txns: list[tuple[int, str, int, str, str]] = []
        self._postings: list[tuple[int, int, str, int]] = []

    # -- units and accounts -------------------------------------------------------------
    def unit(self, unit: str, scale: int, decimals: int) -> None:
        """Declare a unit with its ledger scale (stored decimals) and display decimals."""
        known = self.units.get(unit)
        if known is not None:
            require(known == (scale, decimals), f"unit {unit} redeclared as {scale}/{decimals}")
            return
        self.units[unit] = (scale, decimals)
        self._new_units.append((unit, scale, decimals))

    def account(self, name: str, type_: str, unit: str) -> int:
        """The id of an account, opening it on first use."""
        known = self.accounts.get(name)
        if known is not None:
            require(known[1:] == (type_, unit), f"account {name} reopened as {type_}/{unit}")
            return known[0]
        require(type_ in ACCOUNT_TYPES, f"account {name}: unknown type {type_}")
        require(unit in self.units, f"account {name}: unknown unit {unit}")
        ident = self.next_account
        self.next_account += 1
        self.accounts[name] = (ident, type_, unit)
        self.account_units[ident] = unit
        self._new_accounts.append((ident, name, type_, unit))
        return ident

    # -- posting ------------------------------------------------------------------------
    def post(
        self, key: str, at_us: int, kind: str, cause: str, legs: list[tuple[int, int]]
    ) -> int:
        """Queue one balanced transaction of (account id, signed amount) legs; returns its id.
        Zero legs are dropped; a transaction that nets to nothing is not written at all."""
        units = self.account_units
        sums: dict[str, int] = {}
        for account_id, amount in legs:
            if amount:
                unit = units[account_id]
                sums[unit] = sums.get(unit, 0) + amount
        if not sums:
            return 0
        for unit, total in sums.items():
            if total:
                raise LedgerError(f"transaction {key} ({kind}) unbalanced in {unit} by {total}")
        if key in self.keys:
            raise LedgerError(f"duplicate idempotency key {key}")
        self.keys.add(key)
        ident = self.next_txn
        self.next_txn += 1
        self._txns.append((ident, key, at_us, kind, cause))
        append = self._postings.append
        for account_id, amount in legs:
            if amount:
                append((ident, account_id, units[account_id], amount))
        return ident

    @property
    def pending(self) -> int:
        """How many transactions wait for the next flush."""
        return len(self._txns)

    @property
    def last_posted(self) -> int:
        """Id of the newest transaction posted (queued or written)."""
        return self.next_txn - 1

    def take_batch(self) -> tuple[list, list, list, list]:
        """Detach everything queued, for a writer that commits it with `write` elsewhere (a
        worker thread): posting may go on meanwhile, into a fresh queue."""
        batch = (self._new_units, self._new_accounts, self._txns, self._postings)
        self._new_units, self._new_accounts, self._txns, self._postings = [], [], [], []
        self.keys = set()
        return batch

    def write(self, batch: tuple[list, list, list, list]) -> None:
        """One SQLite transaction: open the transactions, add their postings, seal them."""
        units, accounts, txns, postings = batch
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT INTO units VALUES (?, ?, ?)", units)
            conn.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?)", accounts)
            conn.executemany(
                "INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (?, ?, ?, ?, ?)", txns)
            conn.executemany(
                "INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (?, ?, ?, ?)", postings)
            if txns:
                conn.execute("INSERT INTO seals (last_id, first_id) VALUES (?, ?)", (txns[-1][0], txns[0][0]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def flush(self) -> None:
        """Write everything queued in one SQLite transaction (group commit)."""
        if self._txns or self._new_accounts or self._new_units:
            self.write(self.take_batch())

    # -- reading ------------------------------------------------------------------------
    def balance(self, name: str, at_us: int | None = None) -> int:
        """The signed sum of an account's postings up to and including `at_us`."""
        self.flush()
        known = self.accounts.get(name)
        if known is None:
            return 0
        sql = "SELECT COALESCE(SUM(p.amount), 0) FROM postings p"
        args: tuple[int, ...] = (known[0],)
        if at_us is None:
            sql += " WHERE p.account_id = ?"
        else:
            sql += " JOIN transactions t ON t.id = p.transaction_id WHERE p.account_id = ? AND t.at_us <= ?"
            args = (known[0], at_us)
        return int(self.conn.execute(sql, args).fetchone()[0])

    def close(self) -> None:
        """Flush and close; WAL is checkpointed so the file stands alone."""
        self.flush()
        if self.path != ":memory:":
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
