"""The JSON-lines export is a public, compared artifact: its bytes are pinned here."""

from __future__ import annotations

from pathlib import Path

from meterbook.ledger import Book, export_file, export_lines

# Written by the export before its reading side moved to sqlite-utils and msgspec Structs; any
# change to these bytes changes every exported ledger and must be deliberate.
PINNED = (
    b'{"id":1,"key":"usage:e1","at":"2026-01-01T00:00:00Z","kind":"usage","cause":"usage:e1","postings":['
    b'{"account":"customer/c1/unbilled","type":"asset","unit":"USD","amount":"1.23456789"},'
    b'{"account":"house/revenue/api/USD","type":"revenue","unit":"USD","amount":"-1.23456789"}]}\n'
    b'{"id":2,"key":"grant:trial","at":"2026-01-01T00:00:00.000001Z","kind":"grant",'
    b'"cause":"grant \\"trial\\" \xe2\x80\x94 \xc3\xa9","postings":['
    b'{"account":"house/expense/promo/ai_credit","type":"expense","unit":"ai_credit","amount":"5000"},'
    b'{"account":"customer/c1/grant/trial","type":"liability","unit":"ai_credit","amount":"-5000"}]}\n'
    b'{"id":3,"key":"draw:e2","at":"2026-01-01T00:00:01.500000Z","kind":"draw","cause":"usage:e2","postings":['
    b'{"account":"customer/c1/grant/trial","type":"liability","unit":"ai_credit","amount":"0.000001"},'
    b'{"account":"house/expense/promo/ai_credit","type":"expense","unit":"ai_credit","amount":"-0.000001"},'
    b'{"account":"customer/c1/unbilled","type":"asset","unit":"USD","amount":"1.00"},'
    b'{"account":"house/revenue/api/USD","type":"revenue","unit":"USD","amount":"-1.00"}]}\n'
)


def hand_posted(path: Path) -> None:
    """A tiny ledger over two units and two flushes: sub-unit amounts, display trimming, a
    transaction that nets to nothing (never written), a cause needing JSON escapes."""
    book = Book(path)
    book.unit("USD", 8, 2)
    book.unit("ai_credit", 6, 0)
    unbilled = book.account("customer/c1/unbilled", "asset", "USD")
    revenue = book.account("house/revenue/api/USD", "revenue", "USD")
    grant = book.account("customer/c1/grant/trial", "liability", "ai_credit")
    promo = book.account("house/expense/promo/ai_credit", "expense", "ai_credit")
    book.post("usage:e1", 1_767_225_600_000_000, "usage", "usage:e1", [(unbilled, 123_456_789), (revenue, -123_456_789)])
    book.post("grant:trial", 1_767_225_600_000_001, "grant", 'grant "trial" — é',
              [(promo, 5_000_000_000), (grant, -5_000_000_000)])
    book.flush()
    book.post("draw:e2", 1_767_225_601_500_000, "draw", "usage:e2",
              [(grant, 1), (promo, -1), (unbilled, 100_000_000), (revenue, -100_000_000)])
    assert book.post("zero", 5, "usage", "usage:e3", [(unbilled, 0), (revenue, 0)]) == 0
    book.close()


def test_export_of_hand_posted_ledger_is_pinned(tmp_path: Path) -> None:
    hand_posted(tmp_path / "l.sqlite")
    export_file(tmp_path / "l.sqlite", tmp_path / "l.jsonl")
    assert (tmp_path / "l.jsonl").read_bytes() == PINNED


def test_export_lines_of_open_book_matches_file_export(tmp_path: Path) -> None:
    hand_posted(tmp_path / "l.sqlite")
    book = Book(tmp_path / "l.sqlite")
    try:
        assert export_lines(book.conn) == PINNED
    finally:
        book.close()


def test_export_of_empty_ledger_is_empty(tmp_path: Path) -> None:
    Book(tmp_path / "l.sqlite").close()
    export_file(tmp_path / "l.sqlite", tmp_path / "l.jsonl")
    assert (tmp_path / "l.jsonl").read_bytes() == b""
