"""Errors the domain raises for a command that cannot apply (the input is refused whole)."""

from __future__ import annotations

from meterbook.errors import MeterbookError, invariant

__all__ = ["CommandError", "invariant", "require"]


class CommandError(MeterbookError):
    """A command that is well-formed but contradicts the state it meets (e.g. an unknown seat);
    the runtime answers it as a refusal of the input that carried it."""


def require(condition: bool, message: str) -> None:
    """Raise CommandError unless `condition` holds (survives `python -O`)."""
    if not condition:
        raise CommandError(message)
