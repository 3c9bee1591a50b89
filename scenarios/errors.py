"""The one user-facing error of scenario loading (defined in the shared error tree)."""

from meterbook.errors import ScenarioError

__all__ = ["ScenarioError"]
