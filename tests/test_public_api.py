"""Each package exports a small, fixed public surface, and the layers import one way."""

from __future__ import annotations

import ast
from pathlib import Path

import meterbook
from meterbook import actors, engine, ledger, scenarios
from tests.conftest import EXAMPLES


def test_public_names() -> None:
    assert sorted(meterbook.__all__) == ["InputError", "LedgerError", "MeterbookError", "Results", "Scenario",
                                         "ScenarioError", "check", "load", "simulate"]
    assert sorted(engine.__all__) == ["Results", "Runtime", "Scenario", "check", "load", "simulate"]
    assert "Customer" in actors.__all__ and "CommandError" in actors.__all__
    assert {"Book", "LedgerError", "export_lines", "verify_file"} <= set(ledger.__all__)
    assert {"Scenario", "ScenarioError", "load", "load_text", "scenario_warnings"} <= set(scenarios.__all__)


def test_notebook_api(tmp_path: Path) -> None:
    scenario = meterbook.load(EXAMPLES / "usage-and-commits.yaml")
    results = meterbook.simulate(scenario, out_dir=tmp_path)
    assert results.money(results.invoice_total("acme", scenario.start)) == "390.00"
    assert (tmp_path / "invoices.json").exists()
    assert meterbook.check(EXAMPLES / "usage-and-commits.yaml") == []
    assert issubclass(meterbook.ScenarioError, meterbook.MeterbookError)


def test_layering() -> None:
    """ledger and scenarios import nothing of ours but the error tree; actors only ledger."""
    root = Path(__file__).resolve().parent.parent
    allowed = {"ledger": {"errors"}, "scenarios": {"errors"}, "actors": {"ledger", "errors"}}
    for pkg, ok in allowed.items():
        for f in (root / pkg).glob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for n in names:
                    parts = n.split(".")
                    if parts[0] != "meterbook" or len(parts) < 2:
                        continue
                    assert parts[1] in ok | {pkg}, f"{pkg}/{f.name} imports {n}"
