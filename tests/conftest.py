"""Shared fixtures: scenario locations, a fresh ledger file, and a runner for scenario text."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterbook.engine.results import Results
from meterbook.engine.simulate import run_scenario
from meterbook.ledger import Book, violations
from meterbook.scenarios import load_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "scenarios" / "examples"
SHARED = ROOT.parent / "shared" / "scenarios"


@pytest.fixture
def fresh_book(tmp_path: Path) -> Book:
    """A new ledger in a real SQLite file (WAL)."""
    book = Book(tmp_path / "ledger.sqlite")
    yield book
    book.conn.close()


@pytest.fixture
def run_text(tmp_path: Path):
    """Run scenario YAML text into a ledger file; returns the Results."""
    opened: list[Results] = []

    def run(text: str, name: str = "test.yaml") -> Results:
        scenario = load_text(text, name)
        results = run_scenario(scenario, str(tmp_path / f"ledger{len(opened)}.sqlite"), name, tmp_path)
        opened.append(results)
        return results

    yield run
    # Every scenario a test runs must leave a ledger that verifies.
    for r in opened:
        r.book.flush()
        assert violations(r.book.conn) == []
        r.book.conn.close()
