"""Rounding rules: half-up (away from zero) once per invoice line; exact everywhere else."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from meterbook.actors.money import display, round_half_up, round_units, to_units
from meterbook.actors.periods import fraction_left
from meterbook.scenarios.types import parse_at


@pytest.mark.parametrize(("value", "expected"), [
    (Fraction(1, 200), 1),        # 0.005 -> 0.01
    (Fraction(-1, 200), -1),      # -0.005 -> -0.01 (away from zero)
    (Fraction(1, 300), 0),        # 0.00333 -> 0.00
    (Fraction(160, 31), 516),     # 10 x 16/31 = 5.1612.. -> 5.16
    (Fraction(-320, 31), -1032),  # -20 x 16/31 -> -10.32
    (Fraction(960, 31), 3097),    # 60 x 16/31 = 30.967.. -> 30.97
])
def test_round_half_up_cents(value: Fraction, expected: int) -> None:
    assert round_half_up(value, 2) == expected


def test_round_units_keeps_scale() -> None:
    assert round_units(12_345_000, 8, 2) == 12_000_000
    assert round_units(12_500_000, 8, 2) == 13_000_000
    assert display(13_000_000, 8, 2) == "0.13"


def test_to_units_exact_and_half_up() -> None:
    assert to_units(Decimal("0.00002"), 8) == 2000
    assert to_units(Decimal("0.000000005"), 8) == 1
    assert to_units(7, 2) == 700


def test_proration_by_elapsed_time() -> None:
    assert fraction_left(parse_at("2026-01-16")) == Fraction(16, 31)
    assert fraction_left(parse_at("2026-02-01")) == 1
    # An arbitrary second: 2026-01-16T12:34:56Z leaves 15 d 11:25:04 = 1,337,104 s of January's 2,678,400 s.
    assert fraction_left(parse_at("2026-01-16T12:34:56Z")) == Fraction(1_337_104, 2_678_400)
