"""Usage sources beyond the timeline: seeded generators and CSV files, as timeline entries."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from meterbook.scenarios.errors import ScenarioError
from meterbook.scenarios.format import Entry, Generator, Scenario, UsageEvent
from meterbook.scenarios.types import parse_at

DAY_US = 86_400_000_000
CSV_COLUMNS = ["transaction_id", "customer_id", "event_type", "timestamp", "properties"]


def _draw(spec: Any, rng: random.Random, path: str, file: str) -> Any:
    """One property value: a constant, or a distribution rendered as a decimal string."""
    if not isinstance(spec, dict):
        return spec
    decimals = int(spec.get("decimals", 0))
    if "lognormal" in spec:
        p = spec["lognormal"]
        value = rng.lognormvariate(float(p.get("mean", 0)), float(p.get("sigma", 1)))
    elif "uniform" in spec:
        p = spec["uniform"]
        value = rng.uniform(float(p["low"]), float(p["high"]))
    elif "choice" in spec:
        return rng.choice(list(spec["choice"]))
    else:
        raise ScenarioError(file, path, "expected a constant or one of lognormal, uniform, choice")
    # Generated quantities leave float at once: quantized half-up to the declared decimals.
    q = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return int(q) if decimals == 0 else str(q)


def _seat_changes(s: Scenario) -> dict[str, list[tuple[int, bool, list[str]]]]:
    """Per customer, the timeline's seat changes in time order: (at, added?, seats)."""
    changes: dict[str, list[tuple[int, bool, list[str]]]] = {}
    for e in sorted(s.timeline, key=lambda e: e.at):
        for cmd, added in ((e.add_seats, True), (e.remove_seats, False)):
            if cmd is not None:
                changes.setdefault(cmd.customer, []).append((e.at, added, cmd.seats))
    return changes


def _generate(s: Scenario, g: Generator, index: int, file: str) -> Iterator[Entry]:
    """Seeded events day by day: per customer, or per seat assigned at the day's start."""
    rng = random.Random(s.seed * 1_000_003 + index)
    changes = _seat_changes(s)
    seats_now = {c.id: list(c.seats) for c in s.customers}
    applied = dict.fromkeys(seats_now, 0)
    start = g.start if g.start is not None else s.start
    end = g.end if g.end is not None else s.end
    ids = g.customers or [c.id for c in s.customers]
    by_id = {c.id: c for c in s.customers}
    key = g.seat_key
    n = 0
    day = start
    while day < end:
        for cid in ids:
            customer = by_id[cid]
            begin = customer.start if customer.start is not None else s.start
            history = changes.get(cid, [])
            while applied[cid] < len(history) and history[applied[cid]][0] <= day:
                _, added, names = history[applied[cid]]
                current = seats_now[cid]
                seats_now[cid] = current + [n for n in names if n not in current] if added else [
                    n for n in current if n not in names]
                applied[cid] += 1
            users: list[str | None] = list(seats_now[cid]) if g.generator == "per_seat" else [None]
            for user in users:
                for _ in range(g.events_per_day):
                    at = day + rng.randrange(min(DAY_US, end - day))
                    props = {k: _draw(v, rng, f"$.usage[{index}].properties.{k}", file)
                             for k, v in g.properties.items()}
                    if user is not None:
                        props.setdefault(key, user)
                    n += 1
                    if at < begin:
                        continue
                    yield Entry(at=at, usage=UsageEvent(id=f"g{index}-{n}", customer=cid,
                                                        event_type=g.event_type or "", properties=props))
        day += DAY_US


def _csv(s: Scenario, g: Generator, index: int, file: str, base: Path) -> Iterator[Entry]:
    path = base / (g.csv or "")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(file, f"$.usage[{index}].csv", f"cannot read {g.csv}: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != CSV_COLUMNS:
        raise ScenarioError(g.csv or "", "line 1", f"expected columns {','.join(CSV_COLUMNS)}")
    customers = {c.id for c in s.customers}
    for line, row in enumerate(reader, start=2):
        where = f"line {line}"
        try:
            at = parse_at(row["timestamp"])
            props = json.loads(row["properties"] or "{}", parse_float=Decimal)
        except (ValueError, json.JSONDecodeError) as exc:
            raise ScenarioError(g.csv or "", where, str(exc)) from None
        if not isinstance(props, dict):
            raise ScenarioError(g.csv or "", f"{where}.properties", "expected a JSON object")
        if row["customer_id"] not in customers:
            raise ScenarioError(g.csv or "", f"{where}.customer_id", f"unknown customer {row['customer_id']!r}")
        props = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in props.items()}
        yield Entry(at=at, usage=UsageEvent(id=row["transaction_id"], customer=row["customer_id"],
                                            event_type=row["event_type"], properties=props))


def generated_entries(s: Scenario, file: str, base: Path) -> Iterator[Entry]:
    """Every usage entry the scenario's `usage:` sources produce, in a fixed order."""
    for i, g in enumerate(s.usage):
        if g.csv is not None:
            yield from _csv(s, g, i, file, base)
        else:
            yield from _generate(s, g, i, file)
