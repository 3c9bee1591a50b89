"""Restart by replay, the ledger's side: a batch the engine computes again from the journal is
compared with the rows stored, instead of being written.

A stored ledger is trusted only if running its journal through the same engine gives it
back exactly: same units, accounts, transactions (id, idempotency key, business time, kind,
cause) and postings (account, unit, amount, in order). Comparing row by row, batch by batch,
is the running comparison the restart needs, and names the first transaction that differs."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from meterbook.errors import ReplayMismatch

if TYPE_CHECKING:
    from meterbook.ledger.book import Batch, Book

_TXNS_SQL = ("SELECT id, idempotency_key, at_us, kind, cause FROM transactions "
             "WHERE id BETWEEN ? AND ? ORDER BY id")
_POSTINGS_SQL = ("SELECT transaction_id, account_id, unit, amount FROM postings "
                 "WHERE transaction_id BETWEEN ? AND ? ORDER BY transaction_id, id")


def compare_stored(book: Book, batch: Batch) -> None:
    """Raise ReplayMismatch unless `batch` is exactly what `book` stores for its transactions."""
    where = f"ledger {book.path} does not match its journal"
    if batch.units:
        raise ReplayMismatch(f"{where}: the journal declares unit {batch.units[0].unit}, which the ledger lacks")
    if batch.accounts:
        first = batch.accounts[0]
        raise ReplayMismatch(f"{where}: the journal opens account {first.name} ({first.type}, {first.unit}), "
                             "which the ledger lacks")
    if not batch.transactions:
        return
    first_id, last_id = batch.transactions[0][0], batch.transactions[-1][0]
    try:
        stored_txns = [tuple(r) for r in book.conn.execute(_TXNS_SQL, (first_id, last_id))]
        stored_legs = [tuple(r) for r in book.conn.execute(_POSTINGS_SQL, (first_id, last_id))]
    except sqlite3.Error as exc:
        raise ReplayMismatch(f"{where}: reading transactions {first_id}-{last_id} failed: {exc}") from exc
    if stored_txns == batch.transactions and stored_legs == batch.postings:
        return
    raise _first_difference(book, where, batch, stored_txns, stored_legs)


def _first_difference(book: Book, where: str, batch: Batch, stored_txns: Sequence[tuple[object, ...]],
                      stored_legs: Sequence[tuple[object, ...]]) -> ReplayMismatch:
    """The mismatch error naming the first transaction whose row or postings differ."""
    names = {a.id: a.name for a in book.accounts.values()}

    def legs_of(rows: Sequence[tuple[object, ...]], ident: int) -> list[str]:
        return [f"{names.get(int(str(account)), account)} {amount} {unit}"
                for txn, account, unit, amount in rows if txn == ident]

    for n, computed in enumerate(batch.transactions):
        ident, key, _, kind, cause = computed
        if n >= len(stored_txns):
            return ReplayMismatch(f"{where}: transaction {ident} ({kind}, key {key}, for {cause}) is computed "
                                  "but not stored", ident)
        if stored_txns[n] != computed:
            return ReplayMismatch(f"{where}: transaction {ident} is stored as {stored_txns[n]} but the journal "
                                  f"computes {computed}", ident)
        stored, again = legs_of(stored_legs, ident), legs_of(batch.postings, ident)
        if stored != again:
            return ReplayMismatch(f"{where}: transaction {ident} ({kind}, key {key}, for {cause}) has postings "
                                  f"[{'; '.join(stored)}] stored, but the journal computes [{'; '.join(again)}]",
                                  ident)
    return ReplayMismatch(f"{where}: transactions {batch.transactions[0][0]}-{batch.transactions[-1][0]} differ")


def check_no_more(book: Book) -> None:
    """After the whole journal replayed: the ledger holds no transaction the journal does not
    compute (a stored transaction beyond the last computed one is a mismatch too)."""
    try:
        extra = book.conn.execute("SELECT id, kind, cause FROM transactions WHERE id > ? ORDER BY id LIMIT 1",
                                  (book.last_posted,)).fetchone()
    except sqlite3.Error as exc:
        raise ReplayMismatch(f"ledger {book.path}: reading its last transactions failed: {exc}") from exc
    if extra is not None:
        ident, kind, cause = extra
        raise ReplayMismatch(f"ledger {book.path} does not match its journal: transaction {ident} ({kind}, for "
                             f"{cause}) is stored but the journal does not compute it", int(ident))
