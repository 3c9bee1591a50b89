"""Mutation fuzzing through the CLI: every mutated scenario either runs to a ledger that verifies
(exit 0) or is refused as bad input (exit 2) with `error: <file>: $...` and no traceback.

Each bundled and shared example is parsed, mutated at random places (a key dropped, a value's
type changed, numbers and amount strings set to -1, 0, 10^30, "abc", null, start and end
swapped, unknown ids, a list entry duplicated, empty lists and strings), dumped back and run
with `meterbook simulate` in process. Fixed cases add an empty file, `null`, non-YAML bytes,
an alias bomb and deep nesting. Any other outcome (exit 1 or 3, an exception, a traceback)
fails the test. The engine-side classes the first runs found are pinned at the end."""

from __future__ import annotations

import copy
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meterbook.engine.cli import main
from meterbook.ledger import verify_file
from meterbook.scenarios import ScenarioError, load
from meterbook.scenarios.load import parse_text
from tests.conftest import EXAMPLES, SHARED

FILES = sorted(EXAMPLES.glob("*.yaml")) + (sorted(SHARED.glob("*.yaml")) if SHARED.is_dir() else [])
ODD_VALUES: list[Any] = [-1, 0, 10**30, "abc", None, "-1", "0", "1" + "0" * 30, "", [], {}, True, 1.5,
                         "2026-13-45", "9999-12-31", "nosuch",
                         "999999999999999999", 999_999_999_999_999_999, "0.000000000000000001", 10**9, "8999-12-01"]
MAX_GENERATED = 20_000  # generated events per case: keeps the whole test near a minute on 2 cores
COUNT = {"cases": 0, "ok": 0, "refused": 0}
def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (tuple of keys and indexes) into a parsed document, the root excluded."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        out.append((*here, key))
        out.extend(_paths(child, (*here, key)))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    """The container holding the node at `path`."""
    for key in path[:-1]:
        doc = doc[key]
    return doc


def _mutate(doc: Any, path: tuple[Any, ...], op: str, value: Any) -> None:
    """Apply one mutation in place at `path`."""
    parent, key = _parent(doc, path), path[-1]
    if op == "drop":
        del parent[key]
    elif op == "set":
        parent[key] = copy.deepcopy(value)
    elif op == "swap" and isinstance(parent, dict) and "start" in parent and "end" in parent:
        parent["start"], parent["end"] = parent["end"], parent["start"]
    elif op == "duplicate" and isinstance(parent[key], list) and parent[key]:
        parent[key].append(copy.deepcopy(parent[key][0]))
    elif op == "empty":
        parent[key] = [] if isinstance(parent[key], list) else {} if isinstance(parent[key], dict) else ""


def _generated_estimate(path: Path) -> int:
    """How many events the file's generators would emit (0 if it does not load)."""
    try:
        s = load(path)
    except ScenarioError:
        return 0
    days = (s.end - s.start) // 86_400_000_000 + 1
    seats = max([len(c.seats) for c in s.customers] + [1]) + 8
    return sum(g.events_per_day * days * len(g.customers or s.customers) * seats for g in s.usage if g.generator)


def _run(path: Path, out: Path) -> Result:
    """`meterbook simulate PATH --out OUT`, in process."""
    return CliRunner().invoke(main, ["simulate", str(path), "--out", str(out)])


def check_contract(path: Path, out: Path) -> None:
    """Exit 0 with a ledger that verifies, or exit 2 naming the file and a field path."""
    result = _run(path, out)
    COUNT["cases"] += 1
    if result.exit_code == 0 and result.exception is None:
        assert verify_file(out / "ledger.sqlite") == []
        COUNT["ok"] += 1
        return
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert f"error: {path.name}: $" in result.output or re.search(r"error: [^:]+\.csv: line \d+: ", result.output), \
        result.output
    assert "Traceback" not in result.output
    COUNT["refused"] += 1


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, str]:
    """A scenario file and the text of one to three random mutations of it."""
    src = draw(st.sampled_from(FILES))
    doc = parse_text(src.read_text(), src.name)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["drop", "set", "set", "set", "swap", "duplicate", "empty"]))
        _mutate(doc, path, op, draw(st.sampled_from(ODD_VALUES)))
    return src, yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.skipif(not FILES, reason="no scenario files")
@settings(max_examples=int(os.environ.get("MUTATION_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_scenarios_run_or_are_refused(case: tuple[Path, str], tmp_path: Path) -> None:
    src, text = case
    work = Path(tmp_path) / f"case{COUNT['cases']}"
    work.mkdir()
    for csv in src.parent.glob("*.csv"):
        shutil.copy(csv, work / csv.name)
    f = work / src.name
    f.write_text(text)
    assume(_generated_estimate(f) <= MAX_GENERATED)
    check_contract(f, work / "out")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
FIXED = {
    "empty": b"",
    "null": b"null\n",
    "non-yaml": bytes(range(256)),
    "alias-bomb": BOMB.encode(),
    "deep-nesting": b"meterbook: 1\nname: " + b"[" * 100_000 + b"]" * 100_000,
    "deep-indent": b"".join(b" " * i + b"a:\n" for i in range(2000)),
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_bad_files_are_refused(name: str, tmp_path: Path) -> None:
    f = tmp_path / f"{name}.yaml"
    f.write_bytes(FIXED[name])
    started = time.perf_counter()
    result = _run(f, tmp_path / "out")
    COUNT["cases"] += 1
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"error: {f.name}: $" in result.output and "Traceback" not in result.output
    assert time.perf_counter() - started < 5


def test_report_case_count() -> None:
    """Print how many cases ran (pytest -s shows it; the count also lands in the junit log)."""
    print(f"mutation fuzz: {COUNT['cases']} cases, {COUNT['ok']} ran, {COUNT['refused']} refused")
    assert COUNT["cases"] > 0 or not FILES


MINIMAL = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: api, type: usage, metric: {event_type: call, aggregation: count}}]
rate_cards: [{id: std, rates: [{product: api, price: "1.00"}]}]
customers:
  - id: acme
    contract:
      rate_card: std
"""
# The engine-side classes the fuzzer found first, each now with its rule.
def test_commit_invoice_items_at_one_instant_run(tmp_path: Path) -> None:
    f = tmp_path / "repro.yaml"
    f.write_text(MINIMAL + """      commits:
        - {type: prepaid, amount: "100.00", start: 2026-01-01, end: 2026-02-01,
           invoice: [{at: 2026-01-01, amount: "50.00"}, {at: 2026-01-01, amount: "50.00"}]}
""")
    result = _run(f, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert verify_file(tmp_path / "out" / "ledger.sqlite") == []


def test_amount_beyond_the_ledger_range_is_bad_input(tmp_path: Path) -> None:
    f = tmp_path / "repro.yaml"
    f.write_text(MINIMAL + """      credits: [{amount: "999999999999999999", start: 2026-01-01}]
""")
    result = _run(f, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert result.output == ("error: repro.yaml: $.customers[0]: activate at 2026-01-01T00:00:00Z: the amount of grant "
                             "'credit-0' is beyond the ledger's range (at most 1,000,000,000 in major units)\n")


def test_an_invoice_total_beyond_the_ledger_range_is_bad_input(tmp_path: Path) -> None:
    """Each event's charge fits; their sum on one invoice does not (the fuzzer found it with a
    generator's quantities): refused naming the customer and the close, not a ledger crash."""
    f = tmp_path / "repro.yaml"
    f.write_text(MINIMAL.replace("aggregation: count", "property: n") + """timeline:
  - {at: 2026-01-02, usage: {id: u1, customer: acme, event_type: call, properties: {n: 600000000}}}
  - {at: 2026-01-03, usage: {id: u2, customer: acme, event_type: call, properties: {n: 600000000}}}
""")
    result = _run(f, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert result.output == ("error: repro.yaml: $.customers[0]: close at 2026-02-01T00:00:00Z: the total of the "
                             "invoice for 2026-01-01T00:00:00Z is beyond the ledger's range (at most 1,000,000,000 "
                             "in major units)\n")
