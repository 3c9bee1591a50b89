"""Amounts beyond MAX_UNITS are refused in `post`, by name, before SQLite could overflow."""

from __future__ import annotations

import pytest

from meterbook.ledger import MAX_UNITS, Book, LedgerError, verify_file

BOUND = "the ledger bound MAX_UNITS = 100_000_000_000_000_000"


def accounts(book: Book) -> tuple[int, int, int, int]:
    """USD at scale 8, and a six-decimal credit at scale 9 (min(decimals + 6, 9))."""
    book.unit("USD", 8, 2)
    book.unit("ai_credit", 9, 6)
    return (book.account("customer/x/unbilled", "asset", "USD"),
            book.account("house/revenue/api/USD", "revenue", "USD"),
            book.account("house/expense/promo/ai_credit", "expense", "ai_credit"),
            book.account("grant/x/trial", "liability", "ai_credit"))


def test_bound_is_exported_and_documented_value() -> None:
    assert MAX_UNITS == 10**17


def test_leg_at_the_bound_is_written(fresh_book: Book) -> None:
    a, r, _, _ = accounts(fresh_book)
    fresh_book.post("t1", 1, "usage", "usage:e1", [(a, MAX_UNITS), (r, -MAX_UNITS)])
    assert fresh_book.balance("customer/x/unbilled") == 10**17
    assert fresh_book.balance("house/revenue/api/USD") == -(10**17)


def test_positive_leg_beyond_the_bound_refused(fresh_book: Book) -> None:
    a, r, _, _ = accounts(fresh_book)
    with pytest.raises(LedgerError) as caught:
        fresh_book.post("t1", 1, "usage", "usage:e1", [(a, MAX_UNITS + 1), (r, -MAX_UNITS - 1)])
    assert str(caught.value) == (f"transaction t1 (usage): amount 100000000000000001 on account customer/x/unbilled "
                                 f"is beyond {BOUND} (while posting usage:e1)")
    assert caught.value.cause == "usage:e1"
    assert (fresh_book.pending, fresh_book.last_posted) == (0, 0)


def test_negative_leg_beyond_the_bound_refused(fresh_book: Book) -> None:
    """Two positive legs within the bound balancing one negative leg beyond it."""
    a, r, _, _ = accounts(fresh_book)
    half = 6 * 10**16
    with pytest.raises(LedgerError) as caught:
        fresh_book.post("t1", 1, "invoice", "close:p1", [(a, half), (a, half), (r, -2 * half)])
    assert str(caught.value) == (f"transaction t1 (invoice): amount -120000000000000000 on account "
                                 f"house/revenue/api/USD is beyond {BOUND} (while posting close:p1)")


def test_positive_legs_of_a_unit_summing_beyond_the_bound_refused(fresh_book: Book) -> None:
    a, r, _, _ = accounts(fresh_book)
    half = 6 * 10**16
    with pytest.raises(LedgerError) as caught:
        fresh_book.post("t1", 1, "usage", "usage:e1", [(a, half), (r, -half), (a, half), (r, -half)])
    assert str(caught.value) == (f"transaction t1 (usage): its positive legs in USD sum to 120000000000000000, "
                                 f"beyond {BOUND} (while posting usage:e1)")
    assert fresh_book.pending == 0


def test_units_each_within_the_bound_pass_together(fresh_book: Book) -> None:
    a, r, e, g = accounts(fresh_book)
    big = 6 * 10**16
    fresh_book.post("t1", 1, "grant", "grant:trial", [(a, big), (r, -big), (e, big), (g, -big)])
    assert fresh_book.balance("grant/x/trial") == -big
    fresh_book.close()
    assert verify_file(fresh_book.path) == []


def test_ten_million_six_decimal_credits_fit_at_scale_9(fresh_book: Book) -> None:
    _, _, e, g = accounts(fresh_book)
    grant = 10_000_000 * 10**9
    fresh_book.post("t1", 1, "grant", "grant:trial", [(e, grant), (g, -grant)])
    assert fresh_book.balance("grant/x/trial") == -10**16


def test_ten_million_six_decimal_credits_at_scale_12_refused_not_overflowing(fresh_book: Book) -> None:
    """Before the bound this was an OverflowError traceback from sqlite3 at flush time."""
    fresh_book.unit("old_credit", 12, 6)
    e = fresh_book.account("house/expense/promo/old_credit", "expense", "old_credit")
    g = fresh_book.account("grant/x/old", "liability", "old_credit")
    grant = 10_000_000 * 10**12
    with pytest.raises(LedgerError) as caught:
        fresh_book.post("t1", 1, "grant", "grant:old", [(e, grant), (g, -grant)])
    assert str(caught.value) == (f"transaction t1 (grant): amount 10000000000000000000 on account "
                                 f"house/expense/promo/old_credit is beyond {BOUND} (while posting grant:old)")
    fresh_book.flush()
    assert fresh_book.balance("grant/x/old") == 0
