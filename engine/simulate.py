"""Simulation mode: run a scenario in virtual time and write its result files."""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from meterbook.engine.build import entry_input
from meterbook.engine.errors import InputError
from meterbook.engine.expect import check_expectations
from meterbook.engine.reports import package_report, rollup_report
from meterbook.engine.results import Results, encode_json
from meterbook.engine.runtime import Engine
from meterbook.ledger import Book, export_lines
from meterbook.scenarios import Scenario, ScenarioError, load
from meterbook.scenarios.generators import generated_entries

DEFAULT_EXAMPLE = "usage-and-commits.yaml"
OUTPUT_FILES = ("ledger.sqlite", "invoices.json", "ledger.jsonl", "summary.json")


def default_scenario() -> Path:
    """The bundled example `meterbook simulate` runs when given no file."""
    return Path(str(resources.files("meterbook.scenarios").joinpath("examples", DEFAULT_EXAMPLE)))


def run_scenario(scenario: Scenario, ledger_path: str, file: str = "<scenario>",
                 base_dir: Path | None = None) -> Results:
    """Simulate a decoded scenario into a ledger at `ledger_path`; raises ScenarioError."""
    book = Book(ledger_path)
    engine = Engine(scenario, book)
    currency = scenario.currency
    try:
        inputs = [entry_input(entry, f"$.timeline[{i}]", currency) for i, entry in enumerate(scenario.timeline)]
        inputs += [entry_input(entry, f"$.usage[generated {k}]", currency)
                   for k, entry in enumerate(generated_entries(scenario, file, base_dir or Path(".")))]
        # Stable sort: at one instant, phases in rule order, then file order.
        inputs.sort(key=lambda item: (item.at_us, item.phase))
        for item in inputs:
            engine.submit(item)
        engine.run()
    except InputError as exc:
        book.conn.close()
        raise ScenarioError(file, exc.path, exc.reason) from None
    return Results(engine)


def simulate(path: str | Path | None = None, out_dir: str | Path = "out") -> Results:
    """Run a scenario file and write ledger.sqlite, invoices.json, ledger.jsonl, summary.json.
    Nothing is written unless the whole run succeeds."""
    src = Path(path) if path is not None else default_scenario()
    scenario = load(src)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".meterbook-", dir=out))
    try:
        results = run_scenario(scenario, str(work / "ledger.sqlite"), src.name, src.parent)
        write_outputs(results, work)
        for name in os.listdir(work):
            os.replace(work / name, out / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def write_outputs(results: Results, directory: Path) -> None:
    """Write the result files of a run into `directory` (the ledger is already there)."""
    book = results.book
    book.flush()
    (directory / "invoices.json").write_bytes(encode_json(results.invoices()))
    (directory / "summary.json").write_bytes(encode_json(results.summary()))
    for name, payload in extra_reports(results).items():
        (directory / name).write_bytes(encode_json(payload))
    (directory / "ledger.jsonl").write_bytes(export_lines(book.conn))
    book.close()


def extra_reports(results: Results) -> dict[str, object]:
    """Reports beyond the four core files (packages, roll-ups), by file name."""
    return {"packages.json": package_report(results), "rollup.json": rollup_report(results)}


def check(path: str | Path) -> list[str]:
    """Run a scenario in memory and list the expectations it misses (empty: it passes)."""
    src = Path(path)
    scenario = load(src)
    with tempfile.TemporaryDirectory(prefix="meterbook-check-") as tmp:
        results = run_scenario(scenario, str(Path(tmp) / "ledger.sqlite"), src.name, src.parent)
        try:
            return check_expectations(results, scenario.expect)
        finally:
            results.book.close()
