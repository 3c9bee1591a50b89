"""Deterministic JSON-lines export of a ledger: one transaction a line, in id order."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from itertools import groupby
from pathlib import Path

import msgspec
import sqlite_utils

from meterbook.ledger.errors import LedgerError
from meterbook.ledger.rows import AccountRow, UnitRow, typed

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# One row per posting, joined to its transaction and ordered by (transaction, posting): both
# orders come from the rowid and the postings_transaction index, so SQLite never sorts, and
# the export streams. A transaction without postings (only a tampered file has one) still
# yields one row, with NULL posting columns.
_ROWS_SQL = """
SELECT t.id, t.idempotency_key AS key, t.at_us, t.kind, t.cause,
       p.account_id, p.unit, p.amount
FROM transactions t LEFT JOIN postings p ON p.transaction_id = t.id
ORDER BY t.id, p.id
"""


class ExportPosting(msgspec.Struct):
    """One leg as exported: account name and type, unit, exact decimal amount."""

    account: str
    type: str
    unit: str
    amount: str


class ExportTransaction(msgspec.Struct):
    """One line of the export."""

    id: int
    key: str
    at: str
    kind: str
    cause: str
    postings: list[ExportPosting]


class PostingRow(msgspec.Struct, frozen=True):
    """A row of `_ROWS_SQL`: a transaction's columns and one of its postings (or none)."""

    id: int
    key: str
    at_us: int
    kind: str
    cause: str
    account_id: int | None
    unit: str | None
    amount: int | None


def format_amount(amount: int, scale: int, decimals: int) -> str:
    """Exact decimal text of a scaled integer, trailing zeros trimmed down to `decimals`."""
    text = str(Decimal(amount).scaleb(-scale).quantize(Decimal(1).scaleb(-scale)))
    if scale > decimals:
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0")
        frac = frac + "0" * max(0, decimals - len(frac))
        text = f"{whole}.{frac}" if frac else whole
    return text


def format_instant(at_us: int) -> str:
    """An instant as ISO-8601 UTC text, with microseconds only when it has some."""
    when = _EPOCH + dt.timedelta(microseconds=at_us)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if when.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return when.strftime(fmt)


def transactions(db: sqlite_utils.Database) -> Iterator[ExportTransaction]:
    """Every transaction with its postings, in id order, as exported."""
    units = {u.unit: u for u in typed(db["units"].rows_where(select="unit, scale, decimals"), UnitRow)}
    accounts = {a.id: a for a in typed(db["accounts"].rows_where(select="id, name, type, unit"), AccountRow)}
    for _, group in groupby(typed(db.query(_ROWS_SQL), PostingRow), key=lambda row: row.id):
        rows = list(group)
        legs = []
        for row in rows:
            if row.account_id is None or row.unit is None or row.amount is None:
                continue
            account, unit = accounts[row.account_id], units[row.unit]
            legs.append(ExportPosting(account.name, account.type, row.unit,
                                      format_amount(row.amount, unit.scale, unit.decimals)))
        head = rows[0]
        yield ExportTransaction(head.id, head.key, format_instant(head.at_us), head.kind, head.cause, legs)


def export_lines(conn: sqlite3.Connection) -> bytes:
    """Every transaction with its postings, one JSON object per line, ordered by id."""
    # A borrowed connection: leave it as it was (no recursive triggers, no plugin functions).
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    enc = msgspec.json.Encoder()
    out = bytearray()
    for txn in transactions(db):
        out += enc.encode(txn)
        out += b"\n"
    return bytes(out)


def export_file(db_path: str | Path, out_path: str | Path) -> None:
    """Write the export of a ledger file; a file SQLite cannot read raises LedgerError."""
    conn = sqlite3.connect(str(db_path))
    try:
        lines = export_lines(conn)
    except (sqlite3.Error, msgspec.ValidationError) as exc:
        raise LedgerError(f"cannot export ledger {db_path}: {exc}") from exc
    finally:
        conn.close()
    Path(out_path).write_bytes(lines)
