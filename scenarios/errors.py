"""The one user-facing error of scenario loading: which file, which field, and why."""

from __future__ import annotations


class ScenarioError(Exception):
    """A scenario file that cannot be run, located by file and JSON-path-like field path."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file = file
        self.path = path
        self.reason = reason
        super().__init__(f"{file}: {path}: {reason}")
