"""The double-entry SQLite ledger: schema, posting, balances, verification and export."""

from ledger.book import Book
from ledger.errors import LedgerError
from ledger.export import export_file, export_lines, format_amount
from ledger.verify import verify_file, violations

__all__ = [
    "Book",
    "LedgerError",
    "export_file",
    "export_lines",
    "format_amount",
    "verify_file",
    "violations",
]
