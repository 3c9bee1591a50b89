"""Every user-facing error of meterbook, in one tree (the one module every layer may import).

    MeterbookError
    ├── ScenarioError   a scenario file that cannot run: file, field path, reason
    ├── InputError      one input refused (live or from a file): input id, field, reason
    ├── LedgerError     a ledger invariant broken or a SQLite failure, with what was being posted
    │   └── ReplayMismatch  a stored ledger differs from what its journal computes (restart refused)
    └── InvariantError  a broken internal invariant: a bug, never bad input

The CLI maps them to exit codes: ScenarioError and InputError 2 (bad input), a failed
`ledger verify` 1, InvariantError and anything unexpected 3 ("this is a bug")."""

from __future__ import annotations


class MeterbookError(Exception):
    """Root of every error meterbook raises on purpose."""


class ScenarioError(MeterbookError):
    """A scenario file that cannot be run, located by file and JSON-path-like field path."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file = file
        self.path = path
        self.reason = reason
        super().__init__(f"{file}: {path}: {reason}")


class InputError(MeterbookError):
    """One input (timeline entry or API request) refused whole: nothing was booked or journaled.
    `field` is a path inside the input's body (`$` for the input as a whole)."""

    def __init__(self, input_id: str, field: str, reason: str) -> None:
        self.input_id = input_id
        self.field = field
        self.reason = reason
        super().__init__(f"input {input_id}: {field}: {reason}")


class LedgerError(MeterbookError):
    """A ledger invariant does not hold, or SQLite refused a write; `cause` names what was
    being posted when it happened (an input id, a timer) where that is known."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        self.cause = cause
        super().__init__(message if cause is None else f"{message} (while posting {cause})")


class ReplayMismatch(LedgerError):
    """Restarting, the journal replayed through the engine computes a ledger other than the
    stored one: the file was altered, or the code changed what it computes. `transaction`
    is the id of the first differing transaction (None when the difference is elsewhere)."""

    def __init__(self, message: str, transaction: int | None = None) -> None:
        self.transaction = transaction
        super().__init__(message)


class InvariantError(MeterbookError):
    """An internal invariant broke: a bug in meterbook, never the user's input."""


def invariant(condition: bool, message: str) -> None:
    """Fail loudly unless `condition` holds; unlike `assert`, survives `python -O`."""
    if not condition:
        raise InvariantError(f"invariant broken: {message}")
