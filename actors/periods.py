"""Billing periods (monthly on the 1st, UTC) and the one proration rule, in integer microseconds."""

from __future__ import annotations

import calendar
import datetime as dt
from fractions import Fraction
from functools import lru_cache

from meterbook.ledger import format_instant

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


def period_of(contract_start: int, at_us: int) -> int:
    """Start of the billing period holding `at_us` for a contract that began at
    `contract_start` (a first, partial period starts at the contract's start: rule 1)."""
    return max(contract_start, month_start(at_us))


def fraction_left(at_us: int) -> Fraction:
    """Rule 2, the one proration function: the share of the calendar period holding `at_us`
    that is left from `at_us` on, (period_end - t) / (period_end - period_start). A short first
    period is prorated over its calendar month, as the rule's fraction is."""
    start, end = month_start(at_us), next_month(at_us)
    return Fraction(end - at_us, end - start)


def date_label(at_us: int) -> str:
    """YYYY-MM-DD of an instant, for grant names."""
    return (_EPOCH + dt.timedelta(microseconds=at_us)).strftime("%Y-%m-%d")


def period_label(at_us: int) -> str:
    """The one label of a period everywhere (ledger causes, invoices, reports): its start as
    RFC 3339 UTC, whole seconds without a fraction (the ledger's instant format)."""
    return format_instant(at_us)


def add_months(at_us: int, months: int) -> int:
    """The same day and time `months` calendar months later (clamped to the month's end)."""
    when = _EPOCH + dt.timedelta(microseconds=at_us)
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return _us(when.replace(year=year, month=month, day=day))


def settles_at(end: int, grace: int) -> int:
    """When what ends at `end` (a period, a grant) is settled: its invoice finalized, its
    expiry and rollover booked. With a grace (Live time) that is `grace` after `end`, so late
    usage stamped before `end` can still reach it. A run that ends before then leaves it
    unsettled (the invoice a draft), exactly as a live ledger stands at that instant: the
    journal of a live file, simulated to its horizon, must give its ledger back."""
    return end + grace
