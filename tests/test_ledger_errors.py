"""Every SQLite failure reaches the caller as a LedgerError with SQLite's message and what was
being posted; never a bare sqlite3 exception."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from meterbook.ledger import Book, LedgerError, verify_file
from meterbook.ledger.book import Batch
from meterbook.ledger.schema import schema_sql


def opened(path: Path, **kwargs: float) -> tuple[Book, int, int]:
    """A ledger file with one written transaction (t1, 500 from revenue to unbilled)."""
    book = Book(path, **kwargs)
    book.unit("USD", 8, 2)
    a = book.account("customer/x/unbilled", "asset", "USD")
    r = book.account("house/revenue/api/USD", "revenue", "USD")
    book.post("t1", 1, "usage", "usage:e1", [(a, 500), (r, -500)])
    book.flush()
    return book, a, r


def opened_ids(book: Book) -> tuple[int, int]:
    """Unit and accounts of `opened`, on an existing book, without posting."""
    book.unit("USD", 8, 2)
    return book.account("customer/x/unbilled", "asset", "USD"), book.account("house/revenue/api/USD", "revenue", "USD")


def open_error(path: Path, **kwargs: float) -> LedgerError:
    """The LedgerError the constructor raises (it must raise one)."""
    with pytest.raises(LedgerError) as caught:
        Book(path, **kwargs)
    assert isinstance(caught.value.__cause__, sqlite3.Error | type(None))
    return caught.value


# -- opening -----------------------------------------------------------------------------
def test_open_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not a database at all\n" * 100)
    assert str(open_error(path)) == f"cannot open ledger {path}: file is not a database"


def test_open_refuses_a_sqlite_file_of_something_else(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE notes (body TEXT)")
    c.close()
    assert str(open_error(path)) == f"cannot open ledger {path}: schema: not a meterbook ledger (tables missing)"


def test_open_refuses_changed_columns(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    c = sqlite3.connect(path)
    c.executescript(schema_sql())
    c.execute("ALTER TABLE postings ADD COLUMN memo TEXT")
    c.close()
    assert str(open_error(path)) == (
        f"cannot open ledger {path}: schema: table postings has columns "
        "(id, transaction_id, account_id, unit, amount, memo), expected (id, transaction_id, account_id, unit, amount)")


def test_open_and_verify_refuse_a_weakened_trigger(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    opened(path)[0].close()
    c = sqlite3.connect(path)
    c.execute("DROP TRIGGER seals_balanced")
    c.execute("CREATE TRIGGER seals_balanced BEFORE INSERT ON seals WHEN 0 BEGIN SELECT 1; END")
    c.commit()
    c.close()
    problem = "schema: trigger seals_balanced differs from the shipped definition"
    assert str(open_error(path)) == f"cannot open ledger {path}: {problem}"
    assert verify_file(path) == [problem]


def test_open_refuses_a_directory_and_a_missing_directory(tmp_path: Path) -> None:
    assert str(open_error(tmp_path)) == f"cannot open ledger {tmp_path}: unable to open database file"
    missing = tmp_path / "nowhere" / "l.sqlite"
    assert str(open_error(missing)) == f"cannot open ledger {missing}: unable to open database file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_open_refuses_a_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert str(open_error(ro / "l.sqlite")) == f"cannot open ledger {ro / 'l.sqlite'}: unable to open database file"
    finally:
        ro.chmod(0o755)


def test_open_refuses_a_locked_file(tmp_path: Path) -> None:
    """A writer in exclusive locking mode keeps even readers of a WAL ledger out."""
    path = tmp_path / "l.sqlite"
    Book(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert str(open_error(path, timeout=0.05)) == f"cannot open ledger {path}: database is locked"
    finally:
        holder.close()
    Book(path).close()  # the lock released, the same file opens


# -- writing -----------------------------------------------------------------------------
def test_write_to_a_locked_file_raises_and_the_same_batch_can_be_retried(tmp_path: Path) -> None:
    book, a, r = opened(tmp_path / "l.sqlite", timeout=0.05)
    book.post("t2", 2, "usage", "usage:e2", [(a, 7), (r, -7)])
    book.post("t3", 3, "usage", "usage:e3", [(a, 8), (r, -8)])
    batch = book.take_batch()
    holder = sqlite3.connect(tmp_path / "l.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(LedgerError) as caught:
        book.write(batch)
    assert str(caught.value) == (f"ledger {tmp_path / 'l.sqlite'}: SQLite refused transactions 2-3, rolled back: "
                                 "database is locked (while posting t2 for usage:e2 .. t3 for usage:e3)")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    holder.close()
    book.write(batch)
    assert book.balance("customer/x/unbilled") == 515
    book.close()
    assert verify_file(tmp_path / "l.sqlite") == []


def test_duplicate_key_of_an_earlier_batch_refused_at_write_naming_the_key(tmp_path: Path) -> None:
    """t1 was written two batches ago: only SQLite's UNIQUE index still knows it."""
    book, a, r = opened(tmp_path / "l.sqlite")
    book.post("t2", 2, "usage", "usage:e2", [(a, 7), (r, -7)])
    book.flush()
    book.post("t3", 3, "usage", "usage:e3", [(a, 8), (r, -8)])
    book.post("t1", 4, "usage", "usage:e9", [(a, 9), (r, -9)])
    book.post("t4", 5, "usage", "usage:e4", [(a, 10), (r, -10)])
    with pytest.raises(LedgerError) as caught:
        book.flush()
    assert str(caught.value) == ("duplicate idempotency key t1: transaction 4 (usage) repeats transaction 1 "
                                 "(usage, for usage:e1) already in the ledger; transactions 3-5 rolled back "
                                 "(while posting usage:e9)")
    assert caught.value.cause == "usage:e9"
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert book.balance("customer/x/unbilled") == 507  # nothing of the batch was written
    book.conn.close()
    assert verify_file(tmp_path / "l.sqlite") == []


def test_duplicate_key_after_reopening_refused_at_write(tmp_path: Path) -> None:
    book, _, _ = opened(tmp_path / "l.sqlite")
    book.close()
    again = Book(tmp_path / "l.sqlite")
    a, r = again.account("customer/x/unbilled", "asset", "USD"), again.account("house/revenue/api/USD", "revenue", "USD")
    again.post("t1", 9, "usage", "usage:e1", [(a, 1), (r, -1)])
    with pytest.raises(LedgerError) as caught:
        again.close()
    assert str(caught.value) == ("duplicate idempotency key t1: transaction 2 (usage) repeats transaction 1 "
                                 "(usage, for usage:e1) already in the ledger; transactions 2-2 rolled back "
                                 "(while posting usage:e1)")
    with pytest.raises(sqlite3.ProgrammingError):  # close() closed the connection all the same
        again.conn.execute("SELECT 1")


def test_duplicate_key_of_the_batch_being_written_refused_at_the_next_write(fresh_book: Book) -> None:
    """Live: while the writer commits a taken batch, `post` no longer holds its keys."""
    a, r = opened_ids(fresh_book)
    fresh_book.post("t2", 2, "usage", "usage:e2", [(a, 7), (r, -7)])
    batch = fresh_book.take_batch()
    fresh_book.post("t2", 3, "usage", "usage:e3", [(a, 7), (r, -7)])
    fresh_book.write(batch)
    with pytest.raises(LedgerError) as caught:
        fresh_book.write(fresh_book.take_batch())
    assert str(caught.value) == ("duplicate idempotency key t2: transaction 2 (usage) repeats transaction 1 "
                                 "(usage, for usage:e2) already in the ledger; transactions 2-2 rolled back "
                                 "(while posting usage:e3)")


def test_duplicate_key_inside_a_hand_built_batch_named(fresh_book: Book) -> None:
    a, r = opened_ids(fresh_book)
    fresh_book.flush()
    batch = Batch([], [], [(1, "k", 1, "x", "c1"), (2, "k", 1, "x", "c2")],
                  [(1, a, "USD", 1), (1, r, "USD", -1), (2, a, "USD", 1), (2, r, "USD", -1)])
    with pytest.raises(LedgerError) as caught:
        fresh_book.write(batch)
    assert str(caught.value) == ("duplicate idempotency key k: transactions 1 and 2 (x) of one batch; "
                                 "transactions 1-2 rolled back (while posting c2)")


def test_trigger_refusal_is_a_ledger_error_naming_the_batch(fresh_book: Book) -> None:
    a, r = opened_ids(fresh_book)
    fresh_book.flush()
    batch = Batch([], [], [(1, "k1", 1, "x", "c1")], [(1, a, "USD", 2), (1, r, "USD", -1)])
    with pytest.raises(LedgerError) as caught:
        fresh_book.write(batch)
    assert str(caught.value) == (f"ledger {fresh_book.path}: SQLite refused transactions 1-1, rolled back: "
                                 "ledger: unbalanced transaction refused at seal (while posting k1 for c1 .. k1 for c1)")
    assert fresh_book.conn.execute("SELECT COUNT(*) FROM transactions").fetchone() == (0,)


def test_unknown_account_refused_in_post(fresh_book: Book) -> None:
    a, _ = opened_ids(fresh_book)
    with pytest.raises(LedgerError) as caught:
        fresh_book.post("t1", 1, "usage", "usage:e1", [(a, 1), (999, -1)])
    assert str(caught.value) == "transaction t1 (usage) names unknown account 999 (while posting usage:e1)"


# -- reading -----------------------------------------------------------------------------
def test_balance_overflow_is_a_ledger_error(fresh_book: Book) -> None:
    """Raw rows beyond MAX_UNITS (post refuses them) make SUM() overflow inside SQLite."""
    a, r = opened_ids(fresh_book)
    fresh_book.flush()
    c = fresh_book.conn
    c.execute("INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (1, 'k', 1, 'x', 'raw')")
    for amount in (9 * 10**18, 9 * 10**18):
        c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (1, ?, 'USD', ?)", (a, amount))
    with pytest.raises(LedgerError) as caught:
        fresh_book.balance("customer/x/unbilled")
    assert str(caught.value) == f"ledger {fresh_book.path}: balance of customer/x/unbilled failed: integer overflow"
    with pytest.raises(LedgerError) as caught:
        fresh_book.balances([a, r], 5)
    assert str(caught.value) == f"ledger {fresh_book.path}: balance of accounts 1..2 failed: integer overflow"


def test_balances_sum_several_accounts_up_to_an_instant(fresh_book: Book) -> None:
    a, r = opened_ids(fresh_book)
    fresh_book.unit("ai_credit", 9, 6)
    g1 = fresh_book.account("grant/x/one", "liability", "ai_credit")
    g2 = fresh_book.account("grant/x/two", "liability", "ai_credit")
    e = fresh_book.account("house/expense/promo/ai_credit", "expense", "ai_credit")
    fresh_book.post("t1", 10, "grant", "grant:one", [(e, 300), (g1, -300)])
    fresh_book.post("t2", 20, "grant", "grant:two", [(e, 50), (g2, -50)])
    fresh_book.post("t3", 30, "draw", "usage:e1", [(g1, 40), (e, -40)])
    assert fresh_book.balances([g1, g2], 9) == 0
    assert fresh_book.balances([g1, g2], 10) == -300
    assert fresh_book.balances([g1, g2, g1], 20) == -350  # an id given twice counts once
    assert fresh_book.balances([g1, g2], 30) == -310
    assert fresh_book.balances([], 30) == 0
    assert fresh_book.balances([a, r], 30) == 0
    assert fresh_book.balance("grant/x/one", 30) == -260


def test_run_settings_are_written_with_the_next_batch(tmp_path: Path) -> None:
    book = Book(tmp_path / "m.sqlite")
    book.set_meta("grace_seconds", "3600")
    assert book.meta("grace_seconds") == "3600"  # queued
    assert book.meta("absent") is None
    book.flush()
    book.set_meta("grace_seconds", "60")
    book.close()
    again = Book(tmp_path / "m.sqlite")
    assert again.meta("grace_seconds") == "60"  # close flushes; the last value wins
    again.close()
