"""User-facing errors of the engine: an input refused, located by its path in the input."""

from __future__ import annotations


class InputError(Exception):
    """An input (timeline entry or API request) that cannot be applied; nothing was booked."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")
