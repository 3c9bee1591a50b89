"""Scalar types of format 1: exact decimal amounts and UTC instants, with their decoders."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
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
            return Amount(obj.strip())
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            pass
    raise ValueError(f"expected a decimal string, got {obj!r}")


def parse_at(obj: object) -> At:
    """Decode an RFC 3339 time or a bare date (midnight UTC) into microseconds."""
    if isinstance(obj, str):
        text = obj.strip()
        try:
            if _DATE.match(text):
                when = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
                return At(to_us(when))
            m = _TIME.match(text)
            if m:
                zone = m.group(4)
                zone = "+00:00" if zone in ("Z", "z") else zone
                frac = m.group(3) or ""
                when = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{frac}{zone}")
                return At(to_us(when))
        except ValueError:
            pass
    raise ValueError(f"expected an RFC 3339 UTC time or a date, got {obj!r}")


def to_us(when: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float)."""
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_at(at_us: int) -> str:
    """RFC 3339 text of an instant; whole seconds print without a fraction."""
    when = EPOCH + dt.timedelta(microseconds=at_us)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def dec_hook(tp: type, obj: Any) -> Any:
    """msgspec decode hook for the custom scalar types."""
    if tp is Amount:
        return parse_amount(obj)
    if tp is At:
        return parse_at(obj)
    raise NotImplementedError(f"no decoder for {tp!r}")


def property_value(obj: object) -> Decimal:
    """A usage property as an exact decimal: ints, decimal strings, floats via shortest repr."""
    if isinstance(obj, bool):
        raise ValueError(f"expected a number, got {obj!r}")
    if isinstance(obj, int):
        return Decimal(obj)
    if isinstance(obj, float):
        return Decimal(repr(obj))
    if isinstance(obj, str) and _DECIMAL.match(obj.strip()):
        return Decimal(obj.strip())
    raise ValueError(f"expected a number, got {obj!r}")
