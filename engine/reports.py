"""Reports beyond invoices: revenue by package, and account-tree roll-ups."""

from __future__ import annotations

from typing import Any

from meterbook.actors.invoice import Line
from meterbook.actors.money import round_units
from meterbook.actors.periods import period_label
from meterbook.engine.results import Results


def package_report(results: Results) -> dict[str, Any]:
    """Who was on which package when, and revenue by package and period (by invoice line)."""
    cur = results.catalog.currency
    membership = []
    revenue: dict[tuple[str, int], int] = {}
    for actor in results.customers():
        for at, pkg, version in actor.package_history:
            membership.append({"customer": actor.id, "from": period_label(at), "package": pkg, "version": version})
        for inv in actor.invoices:
            for line in inv.lines:
                for pkg, units in split_line(line, cur.scale, cur.decimals):
                    key = (pkg or "(contract)", inv.start)
                    revenue[key] = revenue.get(key, 0) + units
    rows = [
        {"package": pkg, "period": period_label(period), "revenue": results.money(units)}
        for (pkg, period), units in sorted(revenue.items(), key=_by_period_then_package)
    ]
    return {"membership": membership, "revenue": rows}


def split_line(line: Line, scale: int, decimals: int) -> list[tuple[str | None, int]]:
    """A line's rounded amount shared among the packages it accrued under; the parts sum to
    the rounded line exactly (the last part takes the remainder)."""
    total = round_units(line.units, scale, decimals)
    parts = [(pkg or None, units) for pkg, units in line.by_package.items() if units]
    if len(parts) <= 1:
        first = next(iter(line.by_package), None) or line.package
        return [(parts[0][0] if parts else first, total)]
    out = [(pkg, round_units(units, scale, decimals)) for pkg, units in parts[:-1]]
    out.append((parts[-1][0], total - sum(units for _, units in out)))
    return out


def rollup_report(results: Results) -> list[dict[str, Any]]:
    """For each account: subtree usage and spend per period, and per period the draws each
    descendant made on the account's shared grants."""
    out = []
    for actor in results.customers():
        r = results.rollup(actor.id)
        usage, spend = results.subtree_usage(actor.id), results.subtree_spend(actor.id)
        periods = sorted(set(usage) | set(spend) | {p for p, _, _ in r.draws})
        units = {g.terms.id: g.terms.unit for g in results.grants(actor.id)}
        rows = []
        for p in periods:
            draws = [{"grant": g, "customer": c, "amount": results.amount(units[g], n)}
                     for (period, g, c), n in sorted(r.draws.items()) if period == p]
            rows.append({"period": period_label(p), "usage": results.money(usage.get(p, 0)),
                         "spend": results.money(spend.get(p, 0)), "draws": draws})
        out.append({"customer": actor.id, "parent": results.parent(actor.id), "periods": rows})
    return out


def _by_period_then_package(item: tuple[tuple[str, int], int]) -> tuple[int, str]:
    (package, period), _ = item
    return period, package
