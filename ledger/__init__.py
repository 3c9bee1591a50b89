"""The double-entry SQLite ledger: schema, posting, balances, verification and export."""

from meterbook.ledger.book import MAX_UNITS, Book
from meterbook.ledger.errors import LedgerError
from meterbook.ledger.export import export_file, export_lines, format_amount, format_instant
from meterbook.ledger.verify import verify_file, violations

__all__ = [
    "MAX_UNITS",
    "Book",
    "LedgerError",
    "export_file",
    "export_lines",
    "format_amount",
    "format_instant",
    "verify_file",
    "violations",
]
