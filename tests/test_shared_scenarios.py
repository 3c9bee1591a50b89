"""The product's acceptance examples: every shared and bundled scenario meets its expect: block
and leaves a ledger that verifies."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterbook.engine.expect import check_expectations
from meterbook.engine.simulate import check, run_scenario
from meterbook.ledger import verify_file
from meterbook.scenarios import load
from tests.conftest import EXAMPLES, SHARED

BUNDLED = sorted(EXAMPLES.glob("*.yaml"))
SHARED_FILES = sorted(SHARED.glob("*.yaml")) if SHARED.is_dir() else []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_example_passes(path: Path, tmp_path: Path) -> None:
    scenario = load(path)
    results = run_scenario(scenario, str(tmp_path / "l.sqlite"), path.name, path.parent)
    assert check_expectations(results, scenario.expect) == []
    results.book.close()
    assert verify_file(tmp_path / "l.sqlite") == []


@pytest.mark.skipif(not SHARED_FILES, reason="../shared/scenarios is not beside this checkout")
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: p.name)
def test_shared_example_passes_unchanged(path: Path) -> None:
    assert check(path) == []


def test_bundled_examples_include_every_shared_one() -> None:
    if not SHARED_FILES:
        pytest.skip("../shared/scenarios is not beside this checkout")
    for f in SHARED_FILES:
        assert (EXAMPLES / f.name).read_bytes() == f.read_bytes(), f.name


def test_check_reports_expected_and_actual(tmp_path: Path) -> None:
    text = (EXAMPLES / "usage-and-commits.yaml").read_text()
    text = text.replace('total: "390.00"', 'total: "391.00"')
    f = tmp_path / "wrong.yaml"
    f.write_text(text)
    assert check(f) == ["invoices[0] acme 2026-01-01T00:00:00Z: expected total 391.00, got 390.00"]
