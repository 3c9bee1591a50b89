"""Each package exports a small, fixed public surface."""

from __future__ import annotations

from meterbook import actors, engine, ledger, scenarios


def test_public_names() -> None:
    assert sorted(engine.__all__) == ["Results", "Scenario", "check", "simulate"]
    assert sorted(ledger.__all__) == ["Book", "LedgerError", "export_file", "export_lines", "format_amount",
                                      "verify_file", "violations"]
    assert sorted(scenarios.__all__) == ["Amount", "At", "Scenario", "ScenarioError", "format_at", "load",
                                         "load_text", "parse_at", "scenario_warnings"]
    assert "Customer" in actors.__all__ and "CommandError" in actors.__all__


def test_layering() -> None:
    """ledger and scenarios import nothing of ours; actors import only ledger."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    allowed = {"ledger": set(), "scenarios": set(), "actors": {"ledger"}}
    for pkg, ok in allowed.items():
        for f in (root / pkg).glob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for n in names:
                    top = n.split(".")[0]
                    if top in {"engine", "actors", "ledger", "scenarios"} and top != pkg:
                        assert top in ok, f"{f.name} imports {n}"
