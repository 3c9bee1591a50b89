"""Errors raised by the ledger (defined in the shared error tree) and its check helper."""

from __future__ import annotations

from meterbook.errors import LedgerError

__all__ = ["LedgerError", "require"]


def require(condition: bool, message: str) -> None:
    """Fail loudly (unlike `assert`, this survives `python -O`)."""
    if not condition:
        raise LedgerError(message)
