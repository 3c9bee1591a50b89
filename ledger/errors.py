"""Errors raised by the ledger: an invariant broken, found before or after writing."""

from __future__ import annotations


class LedgerError(Exception):
    """A ledger invariant does not hold; the message names it and where."""


def require(condition: bool, message: str) -> None:
    """Fail loudly (unlike `assert`, this survives `python -O`)."""
    if not condition:
        raise LedgerError(message)
