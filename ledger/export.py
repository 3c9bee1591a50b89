"""Deterministic JSON-lines export of a ledger: one transaction a line, in id order."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import msgspec

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ExportPosting(msgspec.Struct, array_like=False):
    account: str
    type: str
    unit: str
    amount: str


class ExportTransaction(msgspec.Struct):
    id: int
    key: str
    at: str
    kind: str
    cause: str
    postings: list[ExportPosting]


def format_amount(amount: int, scale: int, decimals: int) -> str:
    """Exact decimal text of a scaled integer, trailing zeros trimmed down to `decimals`."""
    text = str(Decimal(amount).scaleb(-scale).quantize(Decimal(1).scaleb(-scale)))
    if scale > decimals:
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0")
        frac = frac + "0" * max(0, decimals - len(frac))
        text = f"{whole}.{frac}" if frac else whole
    return text


def _at(at_us: int) -> str:
    when = _EPOCH + dt.timedelta(microseconds=at_us)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if when.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return when.strftime(fmt)


def export_lines(conn: sqlite3.Connection) -> bytes:
    """Every transaction with its postings, one JSON object per line, ordered by id."""
    units = {u: (s, d) for u, s, d in conn.execute("SELECT unit, scale, decimals FROM units")}
    accounts = {i: (n, t) for i, n, t in conn.execute("SELECT id, name, type FROM accounts")}
    legs: dict[int, list[ExportPosting]] = {}
    for txn, acc, unit, amount in conn.execute(
        "SELECT transaction_id, account_id, unit, amount FROM postings ORDER BY id"
    ):
        name, type_ = accounts[acc]
        legs.setdefault(txn, []).append(
            ExportPosting(name, type_, unit, format_amount(amount, *units[unit]))
        )
    enc = msgspec.json.Encoder()
    out = bytearray()
    for ident, key, at_us, kind, cause in conn.execute(
        "SELECT id, idempotency_key, at_us, kind, cause FROM transactions ORDER BY id"
    ):
        out += enc.encode(ExportTransaction(ident, key, _at(at_us), kind, cause, legs.get(ident, [])))
        out += b"\n"
    return bytes(out)


def export_file(db_path: str | Path, out_path: str | Path) -> None:
    """Write the export of a ledger file."""
    conn = sqlite3.connect(str(db_path))
    try:
        Path(out_path).write_bytes(export_lines(conn))
    finally:
        conn.close()
