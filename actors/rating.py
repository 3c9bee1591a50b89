"""Incremental rating: per-period aggregates and the charge one event adds (rule 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterbook.actors.catalog import Metric, Price
from meterbook.actors.money import to_units


class Aggregate:
    """The running aggregate of one billable metric over one period."""

    __slots__ = ("kind", "seen", "value")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.value: Decimal | int = 0
        self.seen: set[str] | None = set() if kind == "unique" else None

    def after(self, quantity: Decimal | int | str) -> Decimal | int:
        """The aggregate if an event carrying `quantity` were counted (nothing changes)."""
        kind = self.kind
        if kind == "sum":
            assert not isinstance(quantity, str)
            return self.value + quantity
        if kind == "count":
            return self.value + 1
        if kind == "max":
            assert not isinstance(quantity, str)
            return quantity if quantity > self.value else self.value
        assert self.seen is not None
        return self.value + (0 if quantity in self.seen else 1)

    def commit(self, quantity: Decimal | int | str, value: Decimal | int) -> None:
        """Count the event: `value` is what `after` returned for it."""
        self.value = value
        if self.seen is not None:
            self.seen.add(quantity)  # type: ignore[arg-type]


def event_quantity(metric: Metric, properties: dict[str, Any]) -> Decimal | int | str | None:
    """What an event contributes to a metric; None when it does not apply (the property is
    absent). A value that is no finite number raises ValueError naming what it got."""
    if metric.aggregation == "count":
        return 1
    raw = properties.get(metric.property)  # type: ignore[arg-type]
    if raw is None:
        return None
    if metric.aggregation == "unique":
        return str(raw)
    if type(raw) is int:
        return raw
    if isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except ArithmeticError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    elif isinstance(raw, Decimal):
        value = raw
    else:
        raise ValueError(f"expected a number, got {raw!r}")
    if not value.is_finite():
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


def charge_units(price: Price, before: Decimal | int, after: Decimal | int, scale: int) -> int:
    """The increase in the rated amount from `before` to `after`, at the ledger scale.
    Differences of rounded cumulative amounts: totals stay exact to the scale however the
    events are split."""
    if price.flat_units is not None and type(before) is int and type(after) is int:
        return (after - before) * price.flat_units
    return to_units(price.rated(after), scale) - to_units(price.rated(before), scale)
