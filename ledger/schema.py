"""The ledger's DDL and the comparison of a file's schema against it."""

from __future__ import annotations

import functools
import sqlite3
from importlib import resources

import msgspec
import sqlite_utils

# The tables every ledger file has; a file holding none of them is not a ledger.
LEDGER_TABLES = ("units", "accounts", "transactions", "seals", "postings")


class Reference(msgspec.Struct, frozen=True):
    """What the shipped DDL creates: columns per table, and each trigger's normalized SQL in
    creation order."""

    columns: dict[str, tuple[str, ...]]
    triggers: dict[str, str]


def schema_sql() -> str:
    """The DDL of the ledger, shipped beside this module."""
    return resources.files("meterbook.ledger").joinpath("schema.sql").read_text(encoding="utf-8")


def _normalized(sql: str) -> str:
    """SQL with whitespace runs collapsed, so re-indenting schema.sql is not a mismatch."""
    return " ".join(sql.split())


@functools.cache
def reference() -> Reference:
    """The shipped schema, read back from an in-memory database built by it (so the expected
    columns and triggers are never restated by hand)."""
    db = sqlite_utils.Database(sqlite3.connect(":memory:"), recursive_triggers=False, execute_plugins=False)
    try:
        db.executescript(schema_sql())
        return Reference(
            columns={name: tuple(c.name for c in db[name].columns) for name in db.table_names()},
            triggers={t.name: _normalized(t.sql) for t in db.triggers},
        )
    finally:
        db.close()


def table_problems(db: sqlite_utils.Database) -> list[str]:
    """Ledger tables that are missing or whose columns differ from the shipped ones."""
    ref = reference()
    present = set(db.table_names())
    if not set(LEDGER_TABLES) <= present:
        return ["schema: not a meterbook ledger (tables missing)"]
    found = []
    for name, expected in ref.columns.items():
        if name not in present:  # only `meta` can be absent here; the DDL creates it
            continue
        actual = tuple(c.name for c in db[name].columns)
        if actual != expected:
            found.append(f"schema: table {name} has columns ({', '.join(actual)}), "
                         f"expected ({', '.join(expected)})")
    return found


def trigger_problems(db: sqlite_utils.Database) -> list[str]:
    """Shipped triggers that are missing from the file, or present with another definition
    (a weakened check is as bad as a dropped one)."""
    actual = {name: _normalized(sql) for name, sql in db.triggers_dict.items()}
    found = []
    for name, sql in reference().triggers.items():
        if name not in actual:
            found.append(f"schema: trigger {name} is missing")
        elif actual[name] != sql:
            found.append(f"schema: trigger {name} differs from the shipped definition")
    return found
