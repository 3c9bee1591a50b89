"""Re-check every ledger invariant on an existing file, after the fact."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import sqlite_utils

from meterbook.ledger.schema import reference, table_problems, trigger_problems

# Every trigger schema.sql creates, in creation order (read from the shipped DDL itself).
REQUIRED_TRIGGERS = tuple(reference().triggers)

# Each check: a message template over the columns its query names, and the query, which
# yields one row per violation, first one first.
_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "transaction {id} is not sealed",
        "SELECT id FROM transactions WHERE id > (SELECT COALESCE(MAX(last_id), 0) FROM seals) ORDER BY id",
    ),
    (
        "seal ending at {last_id} does not follow the previous one",
        "SELECT s.last_id FROM seals s WHERE s.first_id <> COALESCE((SELECT MAX(p.last_id) FROM seals p "
        "WHERE p.last_id < s.last_id), 0) + 1 ORDER BY s.last_id",
    ),
    (
        "transaction {transaction_id} does not balance in {unit} (off by {off})",
        "SELECT transaction_id, unit, SUM(amount) AS off FROM postings GROUP BY transaction_id, unit "
        "HAVING SUM(amount) <> 0 ORDER BY transaction_id",
    ),
    (
        "transaction {id} has fewer than two postings",
        "SELECT t.id FROM transactions t LEFT JOIN postings p ON p.transaction_id = t.id "
        "GROUP BY t.id HAVING COUNT(p.id) < 2 ORDER BY t.id",
    ),
    (
        "posting {id} is in {unit} but its account {name} is in {account_unit}",
        "SELECT p.id, p.unit, a.name, a.unit AS account_unit FROM postings p JOIN accounts a ON a.id = p.account_id "
        "WHERE p.unit <> a.unit ORDER BY p.id",
    ),
    (
        "posting {id} names no account ({account_id})",
        "SELECT p.id, p.account_id FROM postings p LEFT JOIN accounts a ON a.id = p.account_id "
        "WHERE a.id IS NULL ORDER BY p.id",
    ),
    (
        "posting {id} has a non-integer amount {amount!r}",
        "SELECT id, amount FROM postings WHERE typeof(amount) <> 'integer' ORDER BY id",
    ),
    (
        "transaction {id} names no cause",
        "SELECT id FROM transactions WHERE cause IS NULL OR cause = '' ORDER BY id",
    ),
    (
        "account {name} is in unknown unit {unit}",
        "SELECT a.name, a.unit FROM accounts a LEFT JOIN units u ON u.unit = a.unit "
        "WHERE u.unit IS NULL ORDER BY a.id",
    ),
)


def violations(conn: sqlite3.Connection, limit: int = 20) -> list[str]:
    """Every broken invariant found (up to `limit`), first one first: the schema (triggers
    missing or changed, tables or columns), then the data."""
    # A borrowed connection: leave it as it was (no recursive triggers, no plugin functions).
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    found = trigger_problems(db)
    tables = table_problems(db)
    if tables:
        # The data checks below would fail on the tables themselves.
        return [*found, *tables]
    for template, sql in _CHECKS:
        for row in db.query(sql):
            found.append(template.format(**row))
            if len(found) >= limit:
                return found
    return found + untraced(db, limit - len(found))


# Causes of the engine's own timers, each naming the customer whose creation set it up.
_TIMER_CAUSES = (
    re.compile(r"^contract:(?P<customer>.+)$"),
    re.compile(r"^period:(?P<customer>.+):\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z:(close|open)$"),
)


def untraced(db: sqlite_utils.Database, limit: int) -> list[str]:
    """Transactions whose cause is neither a journaled input nor a timer of a journaled
    customer. A ledger with an empty journal is a bare book (written by hand, as the ledger's
    own tests do) and has nothing to trace against."""
    if not next(iter(db.query("SELECT EXISTS (SELECT 1 FROM inputs) AS any")))["any"]:
        return []
    found = []
    rows = db.query("SELECT id, cause FROM transactions WHERE cause NOT IN (SELECT input_id FROM inputs) ORDER BY id")
    customers: dict[str, bool] = {}
    for row in rows:
        cause = row["cause"]
        match = next((m for m in (rx.match(cause) for rx in _TIMER_CAUSES) if m), None)
        if match is not None:
            key = f"customer:{match['customer']}"
            if key not in customers:
                customers[key] = bool(next(iter(db.query(
                    "SELECT EXISTS (SELECT 1 FROM inputs WHERE input_id = ?) AS any", [key])))["any"])
            if customers[key]:
                continue
        found.append(f"transaction {row['id']} names cause {cause!r}, which is no input of the journal "
                     "nor a timer of a journaled customer")
        if len(found) >= limit:
            break
    return found


def verify_file(path: str | Path) -> list[str]:
    """Open a ledger read-only and list its violations (empty: it verifies)."""
    p = Path(path)
    if not p.exists():
        return [f"{p}: no such file"]
    with closing(sqlite3.connect(f"file:{p}?mode=ro", uri=True)) as conn:
        try:
            return violations(conn)
        except sqlite3.DatabaseError as exc:
            return [f"{p}: not a readable SQLite ledger ({exc})"]
