"""Simulation mode: run a scenario in virtual time through the runtime's seam and write its
result files."""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from meterbook.engine import inputs as ins
from meterbook.engine.expect import check_expectations
from meterbook.engine.from_scenario import empty_catalog, kind_of, scenario_inputs
from meterbook.engine.reports import package_report, rollup_report
from meterbook.engine.results import Results, encode_json
from meterbook.engine.runtime import Runtime, quiet_gc
from meterbook.engine.settings import record_end, record_start
from meterbook.errors import ScenarioError
from meterbook.ledger import Book, export_lines
from meterbook.scenarios import Scenario, scenario_warnings
from meterbook.scenarios import load as load_file
from meterbook.scenarios.types import format_at

DEFAULT_EXAMPLE = "usage-and-commits.yaml"
OUTPUT_FILES = ("ledger.sqlite", "invoices.json", "ledger.jsonl", "summary.json")


def default_scenario() -> Path:
    """The bundled example `meterbook simulate` runs when given no file."""
    return Path(str(resources.files("meterbook.scenarios").joinpath("examples", DEFAULT_EXAMPLE)))


def load(path: str | Path | None = None) -> Scenario:
    """Read and check a scenario file (default: the bundled example); raises ScenarioError."""
    return load_file(Path(path) if path is not None else default_scenario())


def runtime_for(scenario: Scenario, book: Book) -> Runtime:
    """A runtime for the scenario's window, currency and grace, with nothing else yet: its
    catalog and customers come as create inputs (`from_scenario.declared_inputs`), so the
    journal holds them."""
    return Runtime(empty_catalog(scenario), {}, book, start=scenario.start, horizon=scenario.end,
                   grace_seconds=scenario.grace_seconds)


def run_scenario(scenario: Scenario, ledger_path: str, file: str = "<scenario>",
                 base_dir: Path | None = None) -> Results:
    """Simulate a decoded scenario into a ledger at `ledger_path`: a loop of `advance_to` +
    `apply` over its inputs, then `finish`. A refused input or a failing timer raises
    ScenarioError naming the file, the entry's path and the reason."""
    book = Book(ledger_path, bulk=True)
    try:
        runtime = runtime_for(scenario, book)
        record_start(book, scenario)
        with quiet_gc():
            for item in scenario_inputs(scenario, file, base_dir or Path(".")):
                runtime.advance_to(item.at_us, item.phase)
                answer = runtime.apply(item)
                if answer.status == "refused":
                    raise _refused(scenario, file, item, answer)
                if runtime.faults:
                    raise _fault(scenario, file, runtime)
            record_end(book, runtime.horizon)
            runtime.finish()
        book.build_indexes()
        if runtime.faults:
            raise _fault(scenario, file, runtime)
    except BaseException:
        book.conn.close()
        raise
    return Results(runtime, scenario, scenario_warnings(scenario))


def _refused(scenario: Scenario, file: str, item: ins.Input, answer: ins.Answer) -> ScenarioError:
    """A refused input as a scenario error at the entry's path."""
    where = item.source or "$"
    field = answer.field or "$"
    if field == "$.at" and item.source.startswith("$.timeline"):
        where = f"{item.source}.at"
    elif isinstance(item, ins.EditContract) and field.startswith("$.") and item.source.startswith("$.timeline"):
        where = f"{item.source}.edit_contract{field[1:]}"  # its fields are named as the file's
    elif field == "$.timestamp" and item.source.startswith("$.timeline"):
        where = f"{item.source}.usage.timestamp"
    return ScenarioError(file, where, f"{kind_of(item)} at {format_at(item.at_us)}: {answer.reason}")


def _fault(scenario: Scenario, file: str, runtime: Runtime) -> ScenarioError:
    """A timer that failed, as a scenario error at the customer it concerned."""
    fault = runtime.faults[0]
    ids = [c.id for c in scenario.customers]
    where = f"$.customers[{ids.index(fault.target)}]" if fault.target in ids else "$"
    return ScenarioError(file, where, f"{fault.message} at {format_at(fault.at_us)}: {fault.reason}")


def simulate(path: str | Path | Scenario | None = None, out_dir: str | Path = "out") -> Results:
    """Run a scenario (a file, a decoded Scenario, or the bundled default) and write its result
    files into `out_dir`. Nothing is written unless the whole run succeeds."""
    if isinstance(path, Scenario):
        scenario, name, base = path, "<scenario>", Path(".")
    else:
        src = Path(path) if path is not None else default_scenario()
        scenario, name, base = load_file(src), src.name, src.parent
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".meterbook-", dir=out))
    try:
        results = run_scenario(scenario, str(work / "ledger.sqlite"), name, base)
        write_outputs(results, work)
        for entry in os.listdir(work):
            os.replace(work / entry, out / entry)
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
    scenario = load_file(src)
    with tempfile.TemporaryDirectory(prefix="meterbook-check-") as tmp:
        results = run_scenario(scenario, str(Path(tmp) / "ledger.sqlite"), src.name, src.parent)
        try:
            return check_expectations(results, scenario.expect)
        finally:
            results.book.close()
