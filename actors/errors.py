"""Errors the domain raises for a command that cannot apply (the input is refused whole)."""

from __future__ import annotations

from meterbook.errors import MeterbookError, invariant

__all__ = ["CommandError", "invariant", "require"]


class CommandError(MeterbookError):
    """A command that is well-formed but contradicts the state it meets (e.g. an unknown seat);
    the runtime answers it as a refusal of the input that carried it. `field` is the path inside
    that input the refusal is about, where the actor can name it (`$`: the input as a whole)."""

    def __init__(self, message: str, field: str = "$") -> None:
        self.field = field
        super().__init__(message)


def require(condition: bool, message: str, field: str = "$") -> None:
    """Raise CommandError unless `condition` holds (survives `python -O`)."""
    if not condition:
        raise CommandError(message, field)
