"""Same scenario + same seed => byte-identical invoices, ledger export and summary, across
processes (one of them with hypothesis imported, which touches global random state)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

FILES = ("invoices.json", "ledger.jsonl", "summary.json", "packages.json", "rollup.json")


def run_in_process(scenario: Path, out: Path, preamble: str = "") -> None:
    code = f"{preamble}\nfrom engine import simulate\nsimulate({str(scenario)!r}, {str(out)!r})\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=EXAMPLES.parent.parent)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_two_processes_give_identical_bytes(name: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run_in_process(EXAMPLES / name, a)
    run_in_process(EXAMPLES / name, b, "import hypothesis, random; random.seed(12345)")
    for f in FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "ledger.jsonl").read_bytes().count(b"\n") > 5
