"""The command line mirrors the library: every command has help; simulate writes its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from meterbook.engine.cli import main
from tests.conftest import EXAMPLES

COMMANDS = [[], ["simulate"], ["check"], ["ledger"], ["ledger", "verify"], ["ledger", "export"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "meterbook")
def test_every_command_has_help(cmd: list[str]) -> None:
    result = CliRunner().invoke(main, [*cmd, "--help"])
    assert result.exit_code == 0
    doc = result.output.split("Options:")[0]
    assert len(doc.strip().splitlines()) >= 2, f"{cmd} lacks help text"


def test_simulate_default_writes_files_and_prints_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["simulate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "390.00" in result.output and "125.00" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["invoices.json", "ledger.jsonl", "ledger.sqlite", "packages.json", "rollup.json", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["invoiced_total"] == "515.00"
    assert summary["inputs"] == {"accepted": 15, "duplicates": 1, "denied": 0}  # the timeline, 1 customer, 4 products, 1 rate card
    verify = CliRunner().invoke(main, ["ledger", "verify", str(out / "ledger.sqlite")])
    assert verify.exit_code == 0 and verify.output.strip().endswith(": ok")


def test_check_exit_codes(tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["check", str(EXAMPLES / "usage-and-commits.yaml")])
    assert ok.exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "usage-and-commits.yaml").read_text().replace('balance: "20.00"', 'balance: "21.00"'))
    miss = CliRunner().invoke(main, ["check", str(bad)])
    assert miss.exit_code == 1
    assert "balances[1] acme USD at 2026-01-31T23:59:59Z: expected 21.00, got 20.00" in miss.output


def test_bad_file_exits_2_with_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("meterbook: 1\nstart: 2026-01-01\nend: 2026-02-01\nproducts: [{id: a, type: usage, metric: {event_type: e, aggregation: count}}]\nrate_cards: [{id: r, rates: [{product: a, price: 1.5}]}]\n")
    result = CliRunner().invoke(main, ["simulate", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "bad.yaml: $.rate_cards[0].rates[0].price: expected a decimal string, got 1.5" in result.output
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_verify_fails_on_non_ledger(tmp_path: Path) -> None:
    f = tmp_path / "x.sqlite"
    f.write_bytes(b"not a database at all, not even close" * 10)
    result = CliRunner().invoke(main, ["ledger", "verify", str(f)])
    assert result.exit_code == 1


def test_check_exits_2_for_a_file_it_cannot_load_even_beside_a_failing_one(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("meterbook: 1\nstart: 2026-01-01\n")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text((EXAMPLES / "usage-and-commits.yaml").read_text().replace('total: "390.00"', 'total: "391.00"'))
    result = CliRunner().invoke(main, ["check", str(wrong), str(broken)])
    assert result.exit_code == 2
    assert "error: broken.yaml: $.end: missing required field" in result.output
    assert "FAIL" in result.output  # the other file is still checked and reported


def test_internal_error_exits_3_without_traceback_unless_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meterbook.engine import cli

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(cli, "simulate_file", boom)
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "o")])
    assert result.exit_code == 3
    assert result.output == ("internal error: KeyError: 'surprise'\nThis is a bug in meterbook; rerun with --debug "
                             "for the traceback and report it.\n")
    assert "Traceback" not in result.output
    debug = CliRunner().invoke(main, ["--debug", "simulate", "--out", str(tmp_path / "o")])
    assert isinstance(debug.exception, KeyError)  # --debug lets it through, traceback and all


def test_export_of_a_non_ledger_is_bad_input(tmp_path: Path) -> None:
    f = tmp_path / "x.sqlite"
    f.write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(main, ["ledger", "export", str(f), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert "not a readable SQLite ledger" in result.output


def test_silent_costly_defaults_are_warned_on_stderr_and_in_the_summary(tmp_path: Path) -> None:
    f = tmp_path / "warn.yaml"
    f.write_text("""meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: seat, type: subscription}]
rate_cards: [{id: r, rates: [{product: seat, price: "10.00"}]}]
customers:
  - {id: c, contract: {rate_card: r, subscriptions: [{id: s, product: seat, seat_based: true}]}}
timeline:
  - {at: 2026-01-05, buy_credits: {customer: c, amount: "10.00"}}
""")
    result = CliRunner().invoke(main, ["simulate", str(f), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    expected = [
        '$.timeline[0].buy_credits.price: no price given, so these credits are free (write price: "0" to say so)',
        "$.customers[0].seats: subscription 's' is seat-based but no seats are given, so it charges nothing until "
        "seats are added",
    ]
    for line in expected:
        assert f"warning: {line}" in result.output
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["warnings"] == expected
