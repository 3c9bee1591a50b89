"""SQLite itself refuses what would break double entry; `ledger verify` finds it after the fact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from meterbook.ledger import Book, LedgerError, verify_file


def setup(book: Book) -> tuple[int, int]:
    book.unit("USD", 8, 2)
    a = book.account("customer/x/unbilled", "asset", "USD")
    r = book.account("house/revenue/api/USD", "revenue", "USD")
    book.post("t1", 1, "usage", "usage:e1", [(a, 500), (r, -500)])
    book.flush()
    return a, r


def test_balanced_transactions_are_written_sealed(fresh_book: Book) -> None:
    setup(fresh_book)
    assert fresh_book.balance("customer/x/unbilled") == 500
    assert fresh_book.conn.execute("SELECT first_id, last_id FROM seals").fetchall() == [(1, 1)]


def test_python_refuses_unbalanced(fresh_book: Book) -> None:
    a, r = setup(fresh_book)
    with pytest.raises(LedgerError, match="unbalanced in USD by 1"):
        fresh_book.post("t2", 2, "usage", "usage:e2", [(a, 501), (r, -500)])


def test_sqlite_refuses_unbalanced_seal(fresh_book: Book) -> None:
    a, r = setup(fresh_book)
    c = fresh_book.conn
    c.execute("INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (2, 'k2', 2, 'x', 'raw')")
    c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (2, ?, 'USD', 7)", (a,))
    c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (2, ?, 'USD', -6)", (r,))
    with pytest.raises(sqlite3.IntegrityError, match="unbalanced transaction refused at seal"):
        c.execute("INSERT INTO seals (last_id, first_id) VALUES (2, 2)")


def test_sqlite_refuses_single_posting_seal(fresh_book: Book) -> None:
    setup(fresh_book)
    c = fresh_book.conn
    c.execute("INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (2, 'k2', 2, 'x', 'raw')")
    with pytest.raises(sqlite3.IntegrityError, match="at least two postings"):
        c.execute("INSERT INTO seals (last_id, first_id) VALUES (2, 2)")


def test_sqlite_refuses_update_of_posting(fresh_book: Book) -> None:
    setup(fresh_book)
    with pytest.raises(sqlite3.IntegrityError, match=r"append-only \(no UPDATE\)"):
        fresh_book.conn.execute("UPDATE postings SET amount = 1 WHERE id = 1")


def test_sqlite_refuses_delete_of_posting(fresh_book: Book) -> None:
    setup(fresh_book)
    with pytest.raises(sqlite3.IntegrityError, match=r"append-only \(no DELETE\)"):
        fresh_book.conn.execute("DELETE FROM postings WHERE id = 1")


def test_sqlite_refuses_posting_into_sealed_transaction(fresh_book: Book) -> None:
    a, _ = setup(fresh_book)
    with pytest.raises(sqlite3.IntegrityError, match="posting into a sealed or unknown transaction"):
        fresh_book.conn.execute(
            "INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (1, ?, 'USD', 1)", (a,))
    with pytest.raises(sqlite3.IntegrityError, match="posting into a sealed or unknown transaction"):
        fresh_book.conn.execute(
            "INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (77, ?, 'USD', 1)", (a,))


def test_sqlite_refuses_unsealing_or_rewriting(fresh_book: Book) -> None:
    setup(fresh_book)
    for sql in ("DELETE FROM seals", "UPDATE seals SET last_id = 0", "UPDATE transactions SET kind = 'other'",
                "DELETE FROM transactions"):
        with pytest.raises(sqlite3.IntegrityError):
            fresh_book.conn.execute(sql)


def test_sqlite_refuses_seal_with_gap_or_out_of_order(fresh_book: Book) -> None:
    a, r = setup(fresh_book)
    c = fresh_book.conn
    for t in (2, 4):
        c.execute("INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (?, ?, 2, 'x', 'raw')",
                  (t, f"k{t}"))
        c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (?, ?, 'USD', 5)", (t, a))
        c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (?, ?, 'USD', -5)", (t, r))
    with pytest.raises(sqlite3.IntegrityError, match="without gaps"):
        c.execute("INSERT INTO seals (last_id, first_id) VALUES (4, 2)")   # 3 is missing
    with pytest.raises(sqlite3.IntegrityError, match="without gaps"):
        c.execute("INSERT INTO seals (last_id, first_id) VALUES (4, 4)")   # 2 left behind
    c.execute("INSERT INTO seals (last_id, first_id) VALUES (2, 2)")


def test_sqlite_refuses_unit_mismatch(fresh_book: Book) -> None:
    a, _ = setup(fresh_book)
    c = fresh_book.conn
    c.execute("INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (2, 'k2', 2, 'x', 'raw')")
    c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (2, ?, 'EUR', 1)", (a,))
    c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (2, ?, 'EUR', -1)", (a,))
    with pytest.raises(sqlite3.IntegrityError, match="posting names no account, or a unit other than its account"):
        c.execute("INSERT INTO seals (last_id, first_id) VALUES (2, 2)")


def test_duplicate_idempotency_key_refused(fresh_book: Book) -> None:
    """t1 is written already: only SQLite's UNIQUE index knows it, and `write` names it."""
    a, r = setup(fresh_book)
    fresh_book.post("t1", 3, "usage", "usage:e1", [(a, 1), (r, -1)])
    with pytest.raises(LedgerError) as caught:
        fresh_book.flush()
    assert str(caught.value) == ("duplicate idempotency key t1: transaction 2 (usage) repeats transaction 1 "
                                 "(usage, for usage:e1) already in the ledger; transactions 2-2 rolled back "
                                 "(while posting usage:e1)")


def test_duplicate_idempotency_key_in_the_queue_refused_in_post(fresh_book: Book) -> None:
    a, r = setup(fresh_book)
    fresh_book.post("t2", 3, "usage", "usage:e2", [(a, 1), (r, -1)])
    with pytest.raises(LedgerError) as caught:
        fresh_book.post("t2", 4, "usage", "usage:e3", [(a, 1), (r, -1)])
    assert str(caught.value) == "duplicate idempotency key t2 (while posting usage:e3)"
    assert fresh_book.pending == 1


def test_verify_names_first_violation_of_tampered_file(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    book = Book(path)
    setup(book)
    book.close()
    assert verify_file(path) == []
    c = sqlite3.connect(path)
    c.execute("DROP TRIGGER postings_no_update")
    c.execute("UPDATE postings SET amount = 499 WHERE id = 1")
    c.commit()
    c.close()
    problems = verify_file(path)
    assert problems == ["schema: trigger postings_no_update is missing",
                        "transaction 1 does not balance in USD (off by -1)"]


def test_verify_missing_file(tmp_path: Path) -> None:
    assert verify_file(tmp_path / "nope.sqlite") == [f"{tmp_path / 'nope.sqlite'}: no such file"]


def test_ledger_file_is_wal(fresh_book: Book) -> None:
    assert fresh_book.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_refuses_posting_to_unknown_account(fresh_book: Book) -> None:
    a, _ = setup(fresh_book)
    c = fresh_book.conn
    c.execute("INSERT INTO transactions (id, idempotency_key, at_us, kind, cause) VALUES (2, 'k2', 2, 'x', 'raw')")
    c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (2, ?, 'USD', 1)", (a,))
    c.execute("INSERT INTO postings (transaction_id, account_id, unit, amount) VALUES (2, 999, 'USD', -1)")
    with pytest.raises(sqlite3.IntegrityError, match="posting names no account"):
        c.execute("INSERT INTO seals (last_id, first_id) VALUES (2, 2)")
