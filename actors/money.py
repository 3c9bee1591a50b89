"""Exact money arithmetic: ledger scales, half-up rounding, conversions. No floats anywhere."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from meterbook.actors.errors import require
from meterbook.ledger import MAX_UNITS

# The ledger keeps a unit at six more decimals than it displays, so a rate such as $0.00002
# per token books exactly; display rounding happens once, on the invoice line. Amounts are
# SQLite's 64-bit integers, so the scale is capped at 9: ten million six-decimal token
# credits (a realistic grant) must fit with room for a balance to grow.
EXTRA_LEDGER_DECIMALS = 6
MAX_LEDGER_SCALE = 9
# The largest amount one posting may carry is the ledger's (MAX_UNITS = 10**17 at the ledger
# scale). In major units: $1,000,000,000 for a currency, 10**11 credits of a 0-decimal credit
# type, 10**8 of a credit type with 3 or more decimals. Checked here where amounts enter, so
# the refusal names the input; the ledger checks again on every posting.


def ledger_scale(decimals: int) -> int:
    """Stored decimals of a unit that displays `decimals`."""
    return max(decimals, min(decimals + EXTRA_LEDGER_DECIMALS, MAX_LEDGER_SCALE))


def in_range(units: int, scale: int, what: str) -> int:
    """`units` if one posting may carry it; else the input is refused, naming `what`."""
    require(-MAX_UNITS <= units <= MAX_UNITS,
            f"{what} is beyond the ledger's range (at most {MAX_UNITS // 10**scale:,} in major units)")
    return units


def round_half_up(value: Fraction | Decimal | int, scale: int) -> int:
    """`value` in units of 10**-scale, rounded half away from zero (ROUND_HALF_UP)."""
    x = Fraction(value) * (10**scale)
    sign = -1 if x < 0 else 1
    q, r = divmod(abs(x.numerator), x.denominator)
    if 2 * r >= x.denominator:
        q += 1
    return int(sign * q)


def to_units(value: Decimal | int, scale: int) -> int:
    """A decimal amount as an integer at `scale`, rounded half-up when finer than the scale."""
    if isinstance(value, int):
        return int(value * 10**scale)
    scaled = value.scaleb(scale)
    if scaled == scaled.to_integral_value():
        return int(scaled)
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_units(units: int, scale: int) -> Decimal:
    """The exact decimal value of an integer at `scale`."""
    return Decimal(units).scaleb(-scale)


def display(units: int, scale: int, decimals: int) -> str:
    """Text of an amount at exactly `decimals` places (it must already be rounded to them)."""
    q = Decimal(units).scaleb(-scale).quantize(Decimal(1).scaleb(-decimals))
    return f"{q:f}"


def round_to_display(value: Fraction | Decimal | int, scale: int, decimals: int) -> int:
    """`value` (in major units) rounded half-up to `decimals`, expressed at `scale`."""
    return int(round_half_up(value, decimals) * 10 ** (scale - decimals))


def round_units(units: int, scale: int, decimals: int) -> int:
    """Round an amount held at `scale` to `decimals`, half-up; result stays at `scale`."""
    step = 10 ** (scale - decimals)
    return int(round_half_up(Fraction(units, step), 0) * step)
