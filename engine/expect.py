"""Check a scenario's `expect:` block against results; each miss says expected vs actual."""

from __future__ import annotations

from decimal import Decimal

from meterbook.actors.money import to_units
from meterbook.actors.periods import period_label
from meterbook.engine.results import Results
from meterbook.scenarios import format as fmt
from meterbook.scenarios.types import format_at


def check_expectations(results: Results, expect: fmt.Expect | None) -> list[str]:
    """Every expectation that does not hold, as a readable line (empty: all hold)."""
    if expect is None:
        return []
    misses: list[str] = []
    cat = results.catalog
    cur = cat.currency

    def scaled(unit: str, value: Decimal) -> int:
        return to_units(value, cat.units[unit].scale)

    for i, x in enumerate(expect.invoices):
        got = results.invoice_total(x.customer, x.period)
        want = scaled(cur.id, x.total)
        if got != want:
            shown = "no invoice for that period" if got is None else results.money(got)
            misses.append(f"invoices[{i}] {x.customer} {period_label(x.period)}: "
                          f"expected total {x.total}, got {shown}")
    for i, b in enumerate(expect.balances):
        got = results.balance(b.customer, b.credit_type, b.at, seat=b.seat, grant=b.grant)
        if got != scaled(b.credit_type, b.balance):
            who = b.customer + (f" seat {b.seat}" if b.seat else "") + (f" grant {b.grant}" if b.grant else "")
            misses.append(f"balances[{i}] {who} {b.credit_type} at {format_at(b.at)}: "
                          f"expected {b.balance}, got {results.amount(b.credit_type, got)}")
    for i, d in enumerate(expect.denied):
        got_n = results.denied(d.customer)
        if got_n != d.count:
            misses.append(f"denied[{i}] {d.customer}: expected {d.count}, got {got_n}")
    for i, k in enumerate(expect.breakage):
        got = results.breakage(k.customer, k.credit_type, k.period)
        if got != scaled(k.credit_type, k.amount):
            misses.append(f"breakage[{i}] {k.customer} {k.credit_type} {period_label(k.period)}: "
                          f"expected {k.amount}, got {results.amount(k.credit_type, got)}")
    for i, r in enumerate(expect.rollup):
        got = results.rollup_usage(r.customer, r.period)
        if got != scaled(cur.id, r.usage):
            misses.append(f"rollup[{i}] {r.customer} {period_label(r.period)}: "
                          f"expected usage {r.usage}, got {results.amount(cur.id, got)}")
    return misses
