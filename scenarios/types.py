"""Scalar types of format 1: exact decimal amounts and UTC instants, with their decoders."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Instants a file may name: a window of up to 100 years plus grants of up to 1200 months must
# stay inside the calendar Python computes in (year 9999), with room for the next period start.
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
# A coarse guard against absurd magnitudes; the engine range-checks each unit's ledger exactly.
MAX_INTEGER_DIGITS = 18
MAX_FRACTION_DIGITS = 18
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_LONG_YEAR = re.compile(r"^[+-]?\d{5,}-\d{2}-\d{2}")  # a year past 9999: well-formed, out of range
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|z|[+-]\d{2}:\d{2})$"
)


class Amount(Decimal):
    """An exact decimal written as a string in the file ("10.00"); a float is refused."""


class At(int):
    """An instant as integer microseconds since the Unix epoch, UTC."""


def parse_amount(obj: object) -> Amount:
    """Decode a decimal string; anything else (floats above all) is an error."""
    if isinstance(obj, str) and _DECIMAL.match(obj.strip()):
        try:
            value = Amount(obj.strip())
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            pass
        else:
            check_digits(obj.strip())
            return value
    raise ValueError(f"expected a decimal string, got {obj!r}")


def check_digits(text: str) -> None:
    """Refuse a decimal string with more digits than any real amount has (see MAX_*_DIGITS)."""
    whole, _, fraction = text.lstrip("-").partition(".")
    whole = whole.lstrip("0")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise ValueError(f"at most {MAX_INTEGER_DIGITS} digits before the decimal point, got {len(whole)}")
    if len(fraction) > MAX_FRACTION_DIGITS:
        raise ValueError(f"at most {MAX_FRACTION_DIGITS} digits after the decimal point, got {len(fraction)}")


def parse_at(obj: object) -> At:
    """Decode an RFC 3339 time or a bare date (midnight UTC) into microseconds."""
    if isinstance(obj, str):
        text = obj.strip()
        try:
            if _DATE.match(text):
                return _bounded(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC), obj)
            m = _TIME.match(text)
            if m:
                zone = m.group(4)
                zone = "+00:00" if zone in ("Z", "z") else zone
                frac = m.group(3) or ""
                return _bounded(dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{frac}{zone}"), obj)
        except _OutOfRange:
            raise
        except (ValueError, OverflowError):
            pass
        if _LONG_YEAR.match(text):
            raise ValueError(f"expected an instant in the years {EARLIEST.year} to {LATEST.year - 1}, got {obj!r}")
    raise ValueError(f"expected an RFC 3339 UTC time or a date, got {obj!r}")


def _bounded(when: dt.datetime, obj: object) -> At:
    """The instant of `when` if it lies between EARLIEST and LATEST, else a clear refusal."""
    if not EARLIEST <= when < LATEST:
        raise _OutOfRange(f"expected an instant in the years {EARLIEST.year} to {LATEST.year - 1}, got {obj!r}")
    return At(to_us(when))


class _OutOfRange(ValueError):
    """A well-formed instant outside the supported years (not a syntax error)."""


def to_us(when: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float)."""
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_DAY_US = 86_400_000_000


@functools.lru_cache(maxsize=1024)
def _date_text(days: int) -> str:
    """`YYYY-MM-DD` of a day counted from the epoch."""
    return (EPOCH + dt.timedelta(days=days)).strftime("%Y-%m-%d")


def format_at(at_us: int) -> str:
    """RFC 3339 text of an instant; whole seconds print without a fraction. (The date is
    cached per day and the time computed: a journal export formats a million of these, and
    strftime took half its time.)"""
    days, rest = divmod(at_us, _DAY_US)
    seconds, micro = divmod(rest, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if micro:
        return f"{_date_text(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{micro:06d}Z"
    return f"{_date_text(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def dec_hook(tp: type, obj: Any) -> Any:
    """msgspec decode hook for the custom scalar types."""
    if tp is Amount:
        return parse_amount(obj)
    if tp is At:
        return parse_at(obj)
    raise NotImplementedError(f"no decoder for {tp!r}")


def property_value(obj: object) -> Decimal:
    """A usage property as an exact decimal: ints, decimal strings, finite floats via shortest repr."""
    if isinstance(obj, int) and not isinstance(obj, bool):  # bool is an int in Python, never a quantity
        value = Decimal(obj)
    elif isinstance(obj, float) and math.isfinite(obj):
        value = Decimal(repr(obj))
    elif isinstance(obj, str) and _DECIMAL.match(obj.strip()):
        value = Decimal(obj.strip())
    else:
        raise ValueError(f"expected a finite number (an integer, a decimal string or a float), got {obj!r}")
    check_digits(f"{value:f}")
    return value


def quantity_value(obj: object) -> Decimal:
    """A usage quantity a metric sums or maxes: a finite number that is not negative."""
    value = property_value(obj)
    if value < 0:
        # The engine refuses it too; a negative quantity would be re-billed by a later event.
        raise ValueError(f"must not be negative, got {obj!r}; send a correction as a credit")
    return value


def months_later(at_us: int, months: int) -> int:
    """The same day and time `months` calendar months later, clamped to the month's end
    (the engine's rule for `months:`; here to bound dates at load)."""
    when = EPOCH + dt.timedelta(microseconds=at_us)
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return to_us(when.replace(year=year, month=month, day=day))
