"""The double-entry SQLite ledger: schema, posting, balances, verification and export."""

from meterbook.ledger.book import MAX_UNITS as MAX_UNITS
from meterbook.ledger.book import Book
from meterbook.ledger.errors import LedgerError
from meterbook.ledger.export import export_file, export_lines, format_amount
from meterbook.ledger.verify import verify_file, violations

# MAX_UNITS is importable from here (explicit re-export) but kept out of __all__ until
# tests/test_public_api.py, which pins __all__, lists it.
__all__ = [
    "Book",
    "LedgerError",
    "export_file",
    "export_lines",
    "format_amount",
    "verify_file",
    "violations",
]
