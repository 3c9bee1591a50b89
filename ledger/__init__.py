"""The double-entry SQLite ledger: schema, posting, balances, verification and export."""

from meterbook.ledger.book import Book
from meterbook.ledger.errors import LedgerError
from meterbook.ledger.export import export_file, export_lines, format_amount
from meterbook.ledger.verify import verify_file, violations

__all__ = [
    "Book",
    "LedgerError",
    "export_file",
    "export_lines",
    "format_amount",
    "verify_file",
    "violations",
]
