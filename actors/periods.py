"""Billing periods (monthly on the 1st, UTC) and proration fractions, in integer microseconds."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from functools import lru_cache

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(when: dt.datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@lru_cache(maxsize=4096)
def month_start(at_us: int) -> int:
    """The instant the calendar month holding `at_us` began."""
    when = _EPOCH + dt.timedelta(microseconds=at_us)
    return _us(dt.datetime(when.year, when.month, 1, tzinfo=dt.UTC))


@lru_cache(maxsize=4096)
def next_month(at_us: int) -> int:
    """The first instant of the month after the one holding `at_us`."""
    when = _EPOCH + dt.timedelta(microseconds=at_us)
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    return _us(dt.datetime(year, month, 1, tzinfo=dt.UTC))


def period_bounds(at_us: int) -> tuple[int, int]:
    """The full calendar period [start, end) that holds `at_us`."""
    return month_start(at_us), next_month(at_us)


def remaining_fraction(at_us: int) -> Fraction:
    """Share of the calendar period holding `at_us` that is left from `at_us` on (rule 2)."""
    start, end = period_bounds(at_us)
    return Fraction(end - at_us, end - start)


def date_label(at_us: int) -> str:
    """YYYY-MM-DD of an instant, for grant and period names."""
    return (_EPOCH + dt.timedelta(microseconds=at_us)).strftime("%Y-%m-%d")
