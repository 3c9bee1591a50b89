"""Live time (SCENARIOS.md "Live time"): how far a usage timestamp may stand from its arrival.

The one statement of the rule, used by the file checks (scenarios/validate.py) and by the
engine when it applies an input (engine/runtime.py), so a file and a live input are refused
for the same reasons, in the same words."""

from __future__ import annotations

import datetime as dt

from meterbook.scenarios.types import EPOCH, format_at, to_us

SECOND_US = 1_000_000
MAX_AHEAD_US = 300 * SECOND_US
"""A timestamp may be at most 5 minutes after its arrival (clock skew between sender and us)."""
MAX_GRACE_SECONDS = 7 * 86_400
"""`grace_seconds` is at most 7 days: far below the shortest full period (28 days), so at most
one ended period is ever waiting for late usage (docs/semantics.md, "Live time")."""


def back_dated(start_us: int, at_us: int, grace_seconds: int) -> str | None:
    """Whether a start given with a create or edit command (a customer's, a grant's) lies too
    far before the command's `at` (SCENARIOS.md "Creating and editing at run time"): None
    if not; "grace" when by more than the grace (with the file default 0: at all); "month"
    when a customer's first period would already have ended (a start back-dated across a
    month boundary: its period could no longer take usage)."""
    if at_us - start_us > grace_seconds * SECOND_US:
        return "grace"
    if start_us < at_us and month_after(start_us) <= at_us:
        return "month"
    return None


def grace_note(grace_seconds: int) -> str:
    """What a refusal of a start too early adds: the grace it went past, if there is one."""
    return f" by more than grace_seconds ({grace_seconds})" if grace_seconds else ""


def month_after(at_us: int) -> int:
    """The first instant of the calendar month after the one holding `at_us` (UTC)."""
    when = EPOCH + dt.timedelta(microseconds=at_us)
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    return to_us(dt.datetime(year, month, 1, tzinfo=dt.UTC))


def timestamp_problem(timestamp_us: int, at_us: int, grace_seconds: int) -> str | None:
    """Why a usage timestamp cannot go with an arrival at `at_us` (None when it can): more than
    5 minutes after it, or older than the grace lets usage arrive."""
    if timestamp_us - at_us > MAX_AHEAD_US:
        return f"{format_at(timestamp_us)} is more than 5 minutes after at ({format_at(at_us)})"
    if at_us - timestamp_us > grace_seconds * SECOND_US:
        return (f"{format_at(timestamp_us)} is older than the grace allows: usage may arrive at most "
                f"grace_seconds ({grace_seconds}) after its timestamp, and this one arrives at {format_at(at_us)}")
    return None


def effective_time(timestamp_us: int | None, at_us: int) -> int:
    """The instant a usage event is billed at: its timestamp, default its arrival. A timestamp
    after the arrival (allowed up to 5 minutes, as clock skew) is read as the arrival: the
    engine cannot bill in a period or against grants it has not reached yet."""
    if timestamp_us is None or timestamp_us > at_us:
        return at_us
    return timestamp_us
