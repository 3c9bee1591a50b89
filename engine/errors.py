"""User-facing errors of the engine (defined in the shared error tree)."""

from meterbook.errors import InputError

__all__ = ["InputError"]
