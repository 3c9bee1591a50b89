"""The journal: every accepted input, in apply order, in the same SQLite transaction as the
postings it caused; append-only; every posting traces to it; and it replays to the same ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from meterbook.engine.simulate import run_scenario
from meterbook.ledger import Book, export_lines, verify_file
from meterbook.scenarios import load
from tests.conftest import EXAMPLES
from tests.live_support import simulate_journal

FILES = sorted(EXAMPLES.glob("*.yaml"))


def journal(path: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT seq, input_id, arrival_us, kind, body FROM inputs ORDER BY seq")]
    conn.close()
    return rows


def test_every_accepted_input_is_journaled_once_in_apply_order(tmp_path: Path) -> None:
    path = EXAMPLES / "usage-and-commits.yaml"
    results = run_scenario(load(path), str(tmp_path / "l.sqlite"), path.name, path.parent)
    results.book.close()
    rows = journal(tmp_path / "l.sqlite")
    # 4 products and 1 rate card, the customer, the timeline (the duplicate usage entry is not journaled)
    assert len(rows) == results.runtime.accepted == 15
    assert rows[0]["input_id"] == "command:product:platform_fee" and rows[0]["kind"] == "CreateProduct"
    assert rows[5]["input_id"] == "customer:acme" and rows[5]["kind"] == "CreateCustomer"
    assert [r["seq"] for r in rows] == list(range(1, 16))
    arrivals = [r["arrival_us"] for r in rows]
    assert arrivals == sorted(arrivals)
    assert len({r["input_id"] for r in rows}) == 15
    assert all("source" not in str(r["body"]) for r in rows)  # where it came from is not journaled


def test_the_journal_is_append_only(tmp_path: Path) -> None:
    path = EXAMPLES / "usage-and-commits.yaml"
    run_scenario(load(path), str(tmp_path / "l.sqlite"), path.name, path.parent).book.close()
    conn = sqlite3.connect(tmp_path / "l.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="the journal is append-only"):
        conn.execute("UPDATE inputs SET body = '{}' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="the journal is append-only"):
        conn.execute("DELETE FROM inputs WHERE seq = 1")
    conn.close()


def test_verify_names_a_posting_that_traces_to_no_input(tmp_path: Path) -> None:
    path = EXAMPLES / "usage-and-commits.yaml"
    results = run_scenario(load(path), str(tmp_path / "l.sqlite"), path.name, path.parent)
    results.book.close()
    book = Book(tmp_path / "l.sqlite")
    a = book.account("customer/acme/receivable", "asset", "USD")
    b = book.account("house/revenue/rounding", "revenue", "USD")
    ident = book.post("stray:1", 0, "usage", "usage:nobody", [(a, 100), (b, -100)])
    book.close()
    assert verify_file(tmp_path / "l.sqlite") == [
        f"transaction {ident} names cause 'usage:nobody', which is no input of the journal nor a timer of a "
        "journaled customer"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_journal_replays_to_the_same_ledger(path: Path, tmp_path: Path) -> None:
    """Decode every journaled body back into an engine input and run them through a fresh
    runtime (the currency alone: the catalog is in the journal): the ledger export is byte for
    byte the original's."""
    scenario = load(path)
    original = run_scenario(scenario, str(tmp_path / "a.sqlite"), path.name, path.parent)
    original.book.close()
    replay = simulate_journal(tmp_path / "a.sqlite", tmp_path / "b.sqlite")
    conn = sqlite3.connect(tmp_path / "a.sqlite")
    assert replay == export_lines(conn)
    conn.close()
    assert [r["body"] for r in journal(tmp_path / "b.sqlite")] == [r["body"] for r in journal(tmp_path / "a.sqlite")]


def test_sqlite_refuses_an_input_journaled_twice(tmp_path: Path) -> None:
    """Also in a bulk simulation's ledger: the unique index is kept, not deferred."""
    path = EXAMPLES / "usage-and-commits.yaml"
    run_scenario(load(path), str(tmp_path / "l.sqlite"), path.name, path.parent).book.close()
    conn = sqlite3.connect(tmp_path / "l.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match=r"UNIQUE constraint failed: inputs\.input_id"):
        conn.execute("INSERT INTO inputs (input_id, arrival_us, kind, body) VALUES ('usage:j1', 0, 'x', '{}')")
    conn.close()


def test_the_journal_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """A set in an input (a grant's child_access) is journaled sorted: two processes with
    different hash seeds write byte-identical journals (CI once caught the set's order leaking)."""
    import os
    import subprocess
    import sys

    path = EXAMPLES / "account-hierarchy.yaml"
    bodies = []
    for seed in ("1", "2", "3"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "meterbook", "simulate", str(path), "--out", str(out)],
                              env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        bodies.append([r["body"] for r in journal(out / "ledger.sqlite")])
    assert bodies[0] == bodies[1] == bodies[2]
    assert any('"child_access":["north","south"]' in str(b) for b in bodies[0])
