"""The clock seam: simulation reads the engine's timeline, live mode reads the wall clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int:
        """The current instant in microseconds since the epoch, UTC."""


class WallClock:
    """The only place meterbook reads real time; actors never see it, only the engine."""

    def now_us(self) -> int:
        return time.time_ns() // 1_000


class ManualClock:
    """A clock someone sets: tests, and live runs that replay recorded inputs."""

    def __init__(self, now_us: int) -> None:
        self._now = now_us

    def now_us(self) -> int:
        return self._now

    def set(self, now_us: int) -> None:
        """Move the clock forward to `now_us`."""
        if now_us < self._now:
            raise ValueError("a clock does not run backwards")
        self._now = now_us
