"""Errors the domain raises for a command that cannot apply (the input is refused whole)."""

from __future__ import annotations


class CommandError(Exception):
    """A command that is well-formed but contradicts the state it meets (e.g. an unknown seat)."""


def require(condition: bool, message: str) -> None:
    """Raise CommandError unless `condition` holds (survives `python -O`)."""
    if not condition:
        raise CommandError(message)


def invariant(condition: bool, message: str) -> None:
    """An internal invariant: breaking it is a bug, never bad input."""
    if not condition:
        raise AssertionError(f"invariant broken: {message}")
