"""Usage sources beyond the timeline: seeded generators and CSV files, as timeline entries.

`generated_entries` streams: it yields entries in non-decreasing `at` order without holding
the run in memory (a generator's events are produced and sorted one day at a time; several
sources are merged with `heapq.merge`). A CSV file may list rows in any order, so each CSV
source is read whole (at most MAX_CSV_BYTES) and sorted once."""

from __future__ import annotations

import csv
import heapq
import io
import json
import math
import random
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from meterbook.scenarios.created import merged
from meterbook.scenarios.errors import ScenarioError
from meterbook.scenarios.format import Customer, Entry, Generator, Metric, Scenario, UsageEvent
from meterbook.scenarios.types import At, format_at, parse_at, quantity_value

DAY_US = 86_400_000_000
CSV_COLUMNS = ["transaction_id", "customer_id", "event_type", "timestamp", "properties"]
MAX_CSV_BYTES = 64 * 1024 * 1024
# Bounds on generator parameters (docs/semantics.md, "Input limits and refusals").
MAX_EVENTS_PER_DAY = 100_000
MAX_DECIMALS = 12
MAX_LOGNORMAL_MEAN = 30  # e**30 ~ 1e13: far above any real quantity, far below 18 digits
MAX_LOGNORMAL_SIGMA = 5
MAX_UNIFORM = Decimal(10) ** 15
DISTRIBUTIONS = ("lognormal", "uniform", "choice")
MAX_ID_LENGTH = 200


# -- parameters: checked at load, used when drawing -------------------------------------------

def check_spec(spec: Any, path: str, is_quantity: bool) -> str | None:
    """Why a generator's property spec cannot be drawn from (None when it can). `path` is the
    property's path; the reason may start with a sub-path (`.uniform.low: ...`)."""
    if not isinstance(spec, dict):
        return _check_constant(spec, is_quantity)
    kinds = [k for k in DISTRIBUTIONS if k in spec]
    unknown = sorted(str(k) for k in spec if k not in (*DISTRIBUTIONS, "decimals"))
    if unknown:
        return f".{unknown[0]}: unknown field (expected one of {', '.join(DISTRIBUTIONS)}, decimals)"
    if len(kinds) != 1:
        return f": expected exactly one of {', '.join(DISTRIBUTIONS)}"
    decimals = spec.get("decimals", 0)
    if type(decimals) is not int or not 0 <= decimals <= MAX_DECIMALS:
        return f".decimals: expected an integer from 0 to {MAX_DECIMALS}, got {decimals!r}"
    return {"lognormal": _check_lognormal, "uniform": _check_uniform, "choice": _check_choice}[kinds[0]](
        spec[kinds[0]], is_quantity)


def _check_constant(value: Any, is_quantity: bool) -> str | None:
    """A constant property: free-form, unless a metric reads it as a quantity."""
    if not is_quantity:
        return None
    try:
        quantity_value(value)
    except ValueError as exc:
        return f": {exc}"
    return None


def _number(params: dict[str, Any], name: str, default: float | None, lo: float, hi: float) -> str | None:
    """Why `params[name]` is not a finite number in [lo, hi] (None when it is)."""
    value = params.get(name, default)
    if value is None:
        return f".{name}: missing required field"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f".{name}: expected a finite number, got {value!r}"
    if not lo <= value <= hi:
        return f".{name}: expected a number from {lo:g} to {hi:g}, got {value!r}"
    return None


def _check_lognormal(params: Any, is_quantity: bool) -> str | None:
    """`{lognormal: {mean, sigma}}`: finite, bounded so a draw stays a plausible quantity."""
    if not isinstance(params, dict):
        return f".lognormal: expected a mapping with mean and sigma, got {params!r}"
    for name in sorted(set(params) - {"mean", "sigma"}):
        return f".lognormal.{name}: unknown field (expected mean, sigma)"
    problem = (_number(params, "mean", 0, -MAX_LOGNORMAL_MEAN, MAX_LOGNORMAL_MEAN)
               or _number(params, "sigma", 1, 0, MAX_LOGNORMAL_SIGMA))
    return f".lognormal{problem}" if problem else None


def _check_uniform(params: Any, is_quantity: bool) -> str | None:
    """`{uniform: {low, high}}`: both given, low <= high, not negative for a quantity."""
    if not isinstance(params, dict):
        return f".uniform: expected a mapping with low and high, got {params!r}"
    for name in sorted(set(params) - {"low", "high"}):
        return f".uniform.{name}: unknown field (expected low, high)"
    bound = float(MAX_UNIFORM)
    problem = _number(params, "low", None, -bound, bound) or _number(params, "high", None, -bound, bound)
    if problem:
        return f".uniform{problem}"
    if params["low"] > params["high"]:
        return f".uniform.low: must not exceed high ({params['high']!r}), got {params['low']!r}"
    if is_quantity and params["low"] < 0:
        return f".uniform.low: a quantity must not be negative, got {params['low']!r}"
    return None


def _check_choice(options: Any, is_quantity: bool) -> str | None:
    """`{choice: [...]}`: a non-empty list; every option a valid quantity where one is read."""
    if not isinstance(options, list) or not options:
        return f".choice: expected a non-empty list, got {options!r}"
    for k, option in enumerate(options):
        problem = _check_constant(option, is_quantity)
        if problem:
            return f".choice[{k}]{problem}"
    return None


def _draw(spec: Any, rng: random.Random, path: str, file: str) -> Any:
    """One property value: a constant, or a distribution rendered as a decimal string.
    The spec was checked at load (check_spec), so only the draw itself can go wrong."""
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
    else:  # pragma: no cover - refused at load
        raise ScenarioError(file, path, "expected a constant or one of lognormal, uniform, choice")
    if not math.isfinite(value) or abs(value) >= 1e18:
        raise ScenarioError(file, path, f"a draw came out as {value!r}; lower mean or sigma")
    # Generated quantities leave float at once: quantized half-up to the declared decimals.
    q = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return int(q) if decimals == 0 else str(q)


# -- seeded generators ------------------------------------------------------------------------

def _seat_changes(s: Scenario) -> dict[str, list[tuple[int, bool, list[str]]]]:
    """Per customer, the timeline's seat changes in time order: (at, added?, seats)."""
    changes: dict[str, list[tuple[int, bool, list[str]]]] = {}
    for e in sorted(s.timeline, key=lambda e: e.at):
        for cmd, added in ((e.add_seats, True), (e.remove_seats, False)):
            if cmd is not None:
                changes.setdefault(cmd.customer, []).append((e.at, added, cmd.seats))
    return changes


def _generate(s: Scenario, g: Generator, index: int, file: str) -> Iterator[Entry]:
    """Seeded events day by day: per customer, or per seat assigned at the day's start.
    Each day's events are drawn in the same order as ever (ids and values depend only on the
    seed) and then yielded sorted by time, so the stream never goes back in time."""
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
    day: int = start
    while day < end:
        batch: list[Entry] = []
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
                    batch.append(Entry(at=At(at), usage=UsageEvent(id=f"g{index}-{n}", customer=cid,
                                                               event_type=g.event_type or "", properties=props)))
        # A stable sort: events at one instant keep their draw order.
        batch.sort(key=lambda e: e.at)
        yield from batch
        day += DAY_US


# -- CSV files --------------------------------------------------------------------------------

def _csv_text(s: Scenario, g: Generator, index: int, file: str, base: Path) -> str:
    """The CSV file's text; a missing, huge or non-UTF-8 file is refused clearly."""
    name = g.csv or ""
    path = base / name
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise ScenarioError(file, f"$.usage[{index}].csv",
                                f"{name} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB; split it")
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(file, f"$.usage[{index}].csv", f"cannot read {name}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(name, f"line {line}", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


def _csv_rows(s: Scenario, g: Generator, index: int, file: str, base: Path) -> list[tuple[int, int, Entry]]:
    """Every row of a CSV source as (at, line, entry), each checked, sorted by time then line."""
    name = g.csv or ""
    reader = csv.reader(io.StringIO(_csv_text(s, g, index, file, base), newline=""))
    rows: list[tuple[int, int, Entry]] = []
    customers = {c.id: c for c in s.customers}
    metrics = quantity_metrics(s)
    try:
        header = next(reader, None)
        if header != CSV_COLUMNS:
            raise ScenarioError(name, "line 1", f"expected columns {','.join(CSV_COLUMNS)}")
        for row in reader:
            if not row:
                continue  # a blank line
            line = reader.line_num
            at, entry = _csv_entry(s, customers, metrics, row, name, line)
            rows.append((at, line, entry))
    except csv.Error as exc:
        raise ScenarioError(name, f"line {reader.line_num}", f"not valid CSV: {exc}") from None
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def _csv_entry(s: Scenario, customers: dict[str, Customer], metrics: dict[str, list[Metric]],
               row: list[str], name: str, line: int) -> tuple[int, Entry]:
    """One CSV row as a usage entry; every problem names the CSV file and line."""
    where = f"line {line}"
    if len(row) != len(CSV_COLUMNS):
        raise ScenarioError(name, where, f"expected {len(CSV_COLUMNS)} columns, got {len(row)}")
    tid, cid, event_type, stamp, text = row
    try:
        at = parse_at(stamp)
        props = json.loads(text or "{}", parse_float=Decimal)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ScenarioError(name, where, str(exc)) from None
    if not isinstance(props, dict):
        raise ScenarioError(name, where, "properties: expected a JSON object")
    problem = id_problem(tid)
    if problem:
        raise ScenarioError(name, where, f"transaction_id: {problem}")
    customer = customers.get(cid)
    if customer is None:
        raise ScenarioError(name, where, f"customer_id: unknown customer {cid!r}")
    begins = customer.start if customer.start is not None else s.start
    if not begins <= at < s.end:
        raise ScenarioError(name, where, f"timestamp {format_at(at)} lies outside [{format_at(begins)}, "
                                         f"{format_at(s.end)}) (the window, from customer {cid!r}'s start)")
    props = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in props.items()}
    for prop in quantities_in(metrics.get(event_type, []), props):
        try:
            quantity_value(props[prop])
        except ValueError as exc:
            raise ScenarioError(name, where, f"properties.{prop}: {exc}") from None
    return at, Entry(at=at, usage=UsageEvent(id=tid, customer=cid, event_type=event_type, properties=props))


def _csv(s: Scenario, g: Generator, index: int, file: str, base: Path) -> Iterator[Entry]:
    """A CSV source's entries in time order (the file is read and checked whole, first)."""
    for _, _, entry in _csv_rows(s, g, index, file, base):
        yield entry


# -- shared rules -----------------------------------------------------------------------------

def id_problem(value: str) -> str | None:
    """Why a string cannot be an id (None when it can): empty, padded, control characters."""
    if not value:
        return "must not be empty"
    if value != value.strip():
        return f"{value!r} has leading or trailing whitespace"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return f"{value!r} contains a control character"
    if len(value) > MAX_ID_LENGTH:
        return f"longer than {MAX_ID_LENGTH} characters"
    return None



def quantity_metrics(s: Scenario) -> dict[str, list[Metric]]:
    """Per event type, the metrics that sum or max a property of it (so it must be a number)."""
    out: dict[str, list[Metric]] = {}
    for p in s.products:
        m = p.metric
        if m is not None and m.aggregation in ("sum", "max") and m.property:
            out.setdefault(m.event_type, []).append(m)
    return out


def quantities_in(metrics: list[Metric], props: dict[str, Any]) -> list[str]:
    """The properties of one event that its metrics read as quantities: present, and passing
    the metric's filters (the engine ignores the rest), in product order."""
    names: list[str] = []
    for m in metrics:
        if m.property in props and m.property not in names and _passes(m.filters, props):
            names.append(m.property)
    return names


def _passes(filters: dict[str, list[str | int]], props: dict[str, Any]) -> bool:
    """The engine's filter rule: each filtered property's text is among the allowed values."""
    return all(str(props.get(k)) in {str(v) for v in allowed} for k, allowed in filters.items())


# -- all sources, merged ----------------------------------------------------------------------

def _keyed(source: Iterable[Entry], index: int) -> Iterator[tuple[int, int, int, Entry]]:
    """Entries tagged for merging: (at, source index, sequence, entry); the tags are unique,
    so the merge never compares entries and ties keep source, then sequence, order."""
    for seq, entry in enumerate(source):
        yield entry.at, index, seq, entry


def generated_entries(s: Scenario, file: str, base: Path) -> Iterator[Entry]:
    """Every usage entry the scenario's `usage:` sources produce, lazily, in non-decreasing
    `at` order (ties: source order, then each source's own order). Customers and products
    created in the timeline count as declared ones (they exist before any of their usage)."""
    s = merged(s)[0]
    sources = [_keyed(_csv(s, g, i, file, base) if g.csv is not None else _generate(s, g, i, file), i)
               for i, g in enumerate(s.usage)]
    for *_, entry in heapq.merge(*sources):
        yield entry
