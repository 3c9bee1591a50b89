"""A running digest of a ledger's rows: transactions and postings each hashed in id order,
row by row, so the digest of the rows up to a transaction does not depend on how they were
batched. A live runner's snapshot records it; a restart from that snapshot checks the
stored rows still hash the same before it trusts them without replaying them."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence

import msgspec


def _plain(obj: object) -> object:
    """Subclasses of int (a scenario's instants) as the int SQLite gives back."""
    if isinstance(obj, int):
        return int(obj)
    raise NotImplementedError(f"cannot digest {type(obj).__name__}")


_ENCODE = msgspec.msgpack.Encoder(enc_hook=_plain).encode
_TXNS = "SELECT id, idempotency_key, at_us, kind, cause FROM transactions WHERE id <= ? ORDER BY id"
_POSTINGS = ("SELECT transaction_id, account_id, unit, amount FROM postings WHERE transaction_id <= ? "
             "ORDER BY transaction_id, id")


def _rows(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as bytes, each encoded on its own: how they were batched does not show."""
    return b"".join([_ENCODE(tuple(row)) for row in rows])


class Digest:
    """Two running hashes: one over transaction rows, one over posting rows."""

    def __init__(self) -> None:
        self.txns = hashlib.blake2b(digest_size=16)
        self.postings = hashlib.blake2b(digest_size=16)

    def update(self, txns: Iterable[Sequence[object]], postings: Iterable[Sequence[object]]) -> None:
        """Add rows, in id order."""
        self.txns.update(_rows(txns))
        self.postings.update(_rows(postings))

    def hexdigests(self) -> tuple[str, str]:
        """The two digests so far."""
        return self.txns.hexdigest(), self.postings.hexdigest()


def stored_digest(conn: sqlite3.Connection, last_txn: int, chunk: int = 50_000) -> Digest:
    """The digest of the stored rows of transactions up to `last_txn`."""
    digest = Digest()
    for sql, into in ((_TXNS, digest.txns), (_POSTINGS, digest.postings)):
        cursor = conn.execute(sql, (last_txn,))
        while rows := cursor.fetchmany(chunk):
            into.update(_rows(rows))
    return digest
