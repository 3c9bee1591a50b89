"""Re-check every ledger invariant on an existing file, after the fact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

REQUIRED_TRIGGERS = (
    "postings_into_open_only",
    "postings_no_update",
    "postings_no_delete",
    "transactions_no_update",
    "transactions_no_delete",
    "seals_contiguous",
    "seals_balanced",
    "seals_two_postings",
    "seals_units_match",
    "seals_no_update",
    "seals_no_delete",
)

_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "transaction {0} is not sealed",
        "SELECT id FROM transactions WHERE id > (SELECT COALESCE(MAX(last_id), 0) FROM seals) ORDER BY id",
    ),
    (
        "seal ending at {0} does not follow the previous one",
        "SELECT s.last_id FROM seals s WHERE s.first_id <> COALESCE((SELECT MAX(p.last_id) FROM seals p "
        "WHERE p.last_id < s.last_id), 0) + 1 ORDER BY s.last_id",
    ),
    (
        "transaction {0} does not balance in {1} (off by {2})",
        "SELECT transaction_id, unit, SUM(amount) FROM postings GROUP BY transaction_id, unit "
        "HAVING SUM(amount) <> 0 ORDER BY transaction_id",
    ),
    (
        "transaction {0} has fewer than two postings",
        "SELECT t.id FROM transactions t LEFT JOIN postings p ON p.transaction_id = t.id "
        "GROUP BY t.id HAVING COUNT(p.id) < 2 ORDER BY t.id",
    ),
    (
        "posting {0} is in {1} but its account {2} is in {3}",
        "SELECT p.id, p.unit, a.name, a.unit FROM postings p JOIN accounts a ON a.id = p.account_id "
        "WHERE p.unit <> a.unit ORDER BY p.id",
    ),
    (
        "posting {0} names no account ({1})",
        "SELECT p.id, p.account_id FROM postings p LEFT JOIN accounts a ON a.id = p.account_id "
        "WHERE a.id IS NULL ORDER BY p.id",
    ),
    (
        "posting {0} has a non-integer amount {1!r}",
        "SELECT id, amount FROM postings WHERE typeof(amount) <> 'integer' ORDER BY id",
    ),
    (
        "transaction {0} names no cause",
        "SELECT id FROM transactions WHERE cause IS NULL OR cause = '' ORDER BY id",
    ),
    (
        "account {0} is in unknown unit {1}",
        "SELECT a.name, a.unit FROM accounts a LEFT JOIN units u ON u.unit = a.unit "
        "WHERE u.unit IS NULL ORDER BY a.id",
    ),
)


def violations(conn: sqlite3.Connection, limit: int = 20) -> list[str]:
    """Every broken invariant found (up to `limit`), first one first."""
    found: list[str] = []
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for trig in REQUIRED_TRIGGERS:
        if trig not in names:
            found.append(f"schema: trigger {trig} is missing")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"units", "accounts", "transactions", "postings", "seals"} <= tables:
        return [*found, "schema: not a meterbook ledger (tables missing)"]
    for template, sql in _CHECKS:
        for row in conn.execute(sql):
            found.append(template.format(*row))
            if len(found) >= limit:
                return found
    return found


def verify_file(path: str | Path) -> list[str]:
    """Open a ledger read-only and list its violations (empty: it verifies)."""
    p = Path(path)
    if not p.exists():
        return [f"{p}: no such file"]
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        return violations(conn)
    except sqlite3.DatabaseError as exc:
        return [f"{p}: not a readable SQLite ledger ({exc})"]
    finally:
        conn.close()
