"""`meterbook journal export`: the journal is a scenario. Every bundled and shared scenario,
simulated, exported and simulated again, gives the same ledger and invoices; every journaled
input written as a timeline entry converts back (from_scenario) to the same journal body; the
declared catalog is in the journal; `--until` cuts; bad input is one line and exit 2."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sqlite3
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from meterbook.engine import journal_export
from meterbook.engine.cli import main
from meterbook.engine.from_scenario import build_catalog, entry_input, scenario_inputs
from meterbook.engine.inputs import AnyInput
from meterbook.engine.journal_export import export_journal
from meterbook.engine.runtime import cause_of, journal_body
from meterbook.engine.simulate import run_scenario, simulate
from meterbook.engine.to_scenario import entry_of
from meterbook.errors import ScenarioError
from meterbook.ledger import Book
from meterbook.scenarios import Scenario, load, load_text
from meterbook.scenarios import format as fmt
from meterbook.scenarios.generators import MAX_ID_LENGTH
from meterbook.scenarios.types import EARLIEST, EPOCH, LATEST, dec_hook, format_at, parse_at, to_us
from tests.conftest import EXAMPLES, SHARED

_SHARED = sorted(SHARED.glob("*.yaml")) if SHARED.is_dir() else []
FILES = [pytest.param(p, id=f"bundled/{p.name}") for p in sorted(EXAMPLES.glob("*.yaml"))]
FILES += [pytest.param(p, id=f"shared/{p.name}") for p in _SHARED] or [
    pytest.param(None, id="shared", marks=pytest.mark.skip(reason="../shared/scenarios is not beside this checkout"))]


def journal(db: Path, until: int | None = None) -> list[tuple[str, int, str, str]]:
    """The journal rows (input id, arrival, kind, body) in order, before `until` if given."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT input_id, arrival_us, kind, body FROM inputs WHERE arrival_us < ? ORDER BY seq",
                            (until if until is not None else 2**62,)).fetchall()
    finally:
        conn.close()
    return [(str(a), int(b), str(c), str(d)) for a, b, c, d in rows]


def bodies_of(scenario: Scenario, path: Path) -> list[tuple[str, str]]:
    """(input id, journal body) of every input a scenario converts to, in apply order."""
    return [(cause_of(item), journal_body(item)) for item in scenario_inputs(scenario, path.name, path.parent)]


@pytest.mark.parametrize("path", FILES)
def test_simulate_export_simulate_gives_the_same_ledger_and_invoices(path: Path, tmp_path: Path) -> None:
    simulate(path, tmp_path / "a")
    count = export_journal(tmp_path / "a" / "ledger.sqlite", tmp_path / "j.yaml")
    assert count == len(journal(tmp_path / "a" / "ledger.sqlite")) > 0
    simulate(tmp_path / "j.yaml", tmp_path / "b")
    for name in ("ledger.jsonl", "invoices.json", "packages.json", "rollup.json"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    # The summary too, but for the count of duplicates: a repeated input is not journaled.
    a, b = (json.loads((tmp_path / d / "summary.json").read_bytes()) for d in "ab")
    assert b["inputs"].pop("duplicates") == 0
    a["inputs"].pop("duplicates")
    assert a == b
    assert journal(tmp_path / "b" / "ledger.sqlite") == journal(tmp_path / "a" / "ledger.sqlite")


@pytest.mark.parametrize("path", FILES)
def test_every_journaled_input_round_trips_through_its_timeline_entry(path: Path, tmp_path: Path) -> None:
    """Entry by entry (to_scenario, then from_scenario) and through the written file."""
    simulate(path, tmp_path / "a")
    rows = journal(tmp_path / "a" / "ledger.sqlite")
    export_journal(tmp_path / "a" / "ledger.sqlite", tmp_path / "j.yaml")
    exported = load(tmp_path / "j.yaml")
    catalog = build_catalog(exported, with_created=True)
    decode = msgspec.json.Decoder(AnyInput).decode
    for i, (input_id, _, _, body) in enumerate(rows):
        raw = entry_of(decode(body), exported.currency)
        entry = msgspec.convert(raw, fmt.Entry, dec_hook=dec_hook)
        item = entry_input(catalog, entry, i, f"$.timeline[{i}]")
        assert (cause_of(item), journal_body(item)) == (input_id, body)
    assert bodies_of(exported, tmp_path / "j.yaml") == [(r[0], r[3]) for r in rows]


def test_the_declared_catalog_is_journaled_as_create_inputs_at_the_start(tmp_path: Path) -> None:
    path = EXAMPLES / "packages.yaml"
    scenario = load(path)
    results = simulate(path, tmp_path)
    assert sorted(results.runtime.catalog.units) == ["USD", "gen_credit"]
    rows = journal(tmp_path / "ledger.sqlite")
    creates = {"CreateCreditType", "CreateProduct", "CreateRateCard", "CreatePackage"}
    catalog = [(r[0], r[2]) for r in rows if r[2] in creates]
    assert catalog == [
        ("command:credit_type:gen_credit", "CreateCreditType"),
        *((f"command:product:{p.id}", "CreateProduct") for p in scenario.products),
        ("command:rate_card:ideogram", "CreateRateCard"),
        *((f"command:package:{p.id}", "CreatePackage") for p in scenario.packages),
    ]
    kinds = [r[2] for r in rows]
    assert kinds.index("CreateCustomer") == len(catalog)  # the catalog first, then the customers
    assert all(r[1] == scenario.start for r in rows[:len(catalog)])
    meta = dict(sqlite3.connect(tmp_path / "ledger.sqlite").execute("SELECT key, value FROM meta").fetchall())
    assert meta == {"name": "Good-better-best packages", "seed": "1", "currency": "USD",
                    "start_us": str(scenario.start), "end_us": str(scenario.end), "grace_seconds": "0"}


def test_a_timeline_id_may_not_take_a_declared_catalog_input_id() -> None:
    text = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: fee, type: subscription}]
rate_cards: [{id: std, rates: [{product: fee, price: "1.00"}]}]
customers: [{id: c, contract: {rate_card: std}}]
timeline:
  - {at: 2026-01-02, id: rate_card:std, update_rate: {rate_card: std, product: fee, price: "2.00"}}
"""
    with pytest.raises(ScenarioError) as err:
        load_text(text, "t.yaml")
    assert str(err.value) == ("t.yaml: $.timeline[0].id: 'rate_card:std' is the input id of the declared catalog "
                              "entry $.rate_cards[0]")


def test_the_cli_round_trip_with_exit_codes(tmp_path: Path) -> None:
    path = EXAMPLES / "account-hierarchy.yaml"
    cli = CliRunner()
    first = cli.invoke(main, ["simulate", str(path), "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    done = cli.invoke(main, ["journal", "export", str(tmp_path / "a" / "ledger.sqlite"), str(tmp_path / "j.yaml")])
    assert done.exit_code == 0, done.output
    assert done.output == f"journal of {tmp_path / 'a' / 'ledger.sqlite'}: 11 entries written to {tmp_path / 'j.yaml'}\n"
    again = cli.invoke(main, ["simulate", str(tmp_path / "j.yaml"), "--out", str(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    for name in ("ledger.jsonl", "invoices.json"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    lines = (tmp_path / "j.yaml").read_text().splitlines()
    assert lines[1:7] == ["meterbook: 1", 'name: "Shared commit across an account hierarchy"', "seed: 1",
                          'start: "2026-01-01T00:00:00Z"', 'end: "2026-03-01T00:00:00Z"', 'currency: "USD"']
    assert lines[7:9] == ["grace_seconds: 0", "timeline:"] and all(line.startswith("- {") for line in lines[9:])


def test_until_keeps_the_inputs_before_it_and_ends_there(tmp_path: Path) -> None:
    path = EXAMPLES / "generated-seats.yaml"
    simulate(path, tmp_path / "a")
    until = parse_at("2026-01-15")
    done = CliRunner().invoke(main, ["journal", "export", str(tmp_path / "a" / "ledger.sqlite"),
                                     str(tmp_path / "j.yaml"), "--until", "2026-01-15"])
    assert done.exit_code == 0, done.output
    cut = load(tmp_path / "j.yaml")
    assert (cut.start, cut.end) == (load(path).start, until)
    kept = journal(tmp_path / "a" / "ledger.sqlite", until)
    assert 0 < len(kept) < len(journal(tmp_path / "a" / "ledger.sqlite"))
    assert len(cut.timeline) == len(kept) and all(e.at < until for e in cut.timeline)
    assert bodies_of(cut, tmp_path / "j.yaml") == [(r[0], r[3]) for r in kept]
    simulate(tmp_path / "j.yaml", tmp_path / "b")  # the cut journal is a scenario that runs
    assert journal(tmp_path / "b" / "ledger.sqlite") == kept


HOSTILE = r"""
meterbook: 1
name: "Quotes \" and \\ and é ☃ 😀"
start: 2026-01-01
end: 2026-02-01
products: [{id: calls, name: "Calls: \"fast\"", type: usage, metric: {event_type: call, aggregation: count,
            filters: {region: ["e\u0085u", "#us", "1"]}}}]
rate_cards: [{id: std, rates: [{product: calls, price: "0.0000001"}]}]
customers: [{id: "c: 1", name: "Zoë \"Z\" & {co}", contract: {rate_card: std}}]
timeline:
  - {at: 2026-01-02T03:04:05.000006Z, usage: {id: "u'1", customer: "c: 1", event_type: call,
     properties: {region: "e\u0085u", big: 1.0e+20, small: 2.5e-7, tiny: 0.1, whole: 3.0, neg: -0.0,
                  n: 12345678901234567890, flag: true, none: null, text: "tab\there \u007f \ufffe \u2028 'q' {x: [y]}",
                  nested: {list: [1, 1.0e+16, "a\nb"], "": "empty key"}}}}
  - {at: 2026-01-03, usage: {id: u2, customer: "c: 1", event_type: call, properties: {region: "#us"}}}
  - {at: 2026-01-04, buy_credits: {customer: "c: 1", amount: "0.00", price: "0.00"}}
"""


def test_strings_and_numbers_yaml_reads_differently_from_json_survive(tmp_path: Path) -> None:
    """Unicode, quotes, escapes, characters YAML refuses raw, floats JSON writes without a dot
    or with an unsigned exponent: the project's loader (CSafeLoader) reads back what was written."""
    src = tmp_path / "h.yaml"
    src.write_text(HOSTILE, encoding="utf-8")
    original = load(src)
    simulate(src, tmp_path / "a")
    rows = journal(tmp_path / "a" / "ledger.sqlite")
    assert len(rows) == 6
    assert '"big":1e20' in rows[3][3] and '"small":2.5e-7' in rows[3][3]  # what JSON writes
    export_journal(tmp_path / "a" / "ledger.sqlite", tmp_path / "j.yaml")
    exported = load(tmp_path / "j.yaml")
    assert exported.name == original.name
    assert bodies_of(exported, tmp_path / "j.yaml") == [(r[0], r[3]) for r in rows]


def test_the_file_does_not_depend_on_the_chunk_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(EXAMPLES / "packages.yaml", tmp_path / "a")
    export_journal(tmp_path / "a" / "ledger.sqlite", tmp_path / "one.yaml")
    monkeypatch.setattr(journal_export, "CHUNK", 3)
    export_journal(tmp_path / "a" / "ledger.sqlite", tmp_path / "three.yaml")
    assert (tmp_path / "one.yaml").read_bytes() == (tmp_path / "three.yaml").read_bytes()


def test_grace_seconds_is_written() -> None:
    settings = journal_export.RunSettings(name="n", seed=0, currency="USD", start_us=0, end_us=1, grace_seconds=90)
    assert b"\ngrace_seconds: 90\n" in journal_export.header(settings, 1, "l.sqlite")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ledger")
    simulate(EXAMPLES / "usage-and-commits.yaml", out)
    return out / "ledger.sqlite"


def _no_journal(tmp: Path) -> Path:
    path = tmp / "old.sqlite"
    Book(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE inputs")
    conn.commit()
    conn.close()
    return path


def _no_settings(tmp: Path) -> Path:
    path = tmp / "bare.sqlite"
    Book(path).close()
    return path


def _not_sqlite(tmp: Path) -> Path:
    path = tmp / "notes.txt"
    path.write_text("not a ledger\n")
    return path


def _other_sqlite(tmp: Path) -> Path:
    path = tmp / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    return path


@pytest.mark.parametrize(("make", "args", "message"), [
    (_not_sqlite, [], "{db}: not a meterbook ledger (not an SQLite database)"),
    (_other_sqlite, [], "{db}: not a meterbook ledger (no transactions, postings and accounts tables)"),
    (lambda tmp: tmp / "missing.sqlite", [], "{db}: no such ledger file"),
    (_no_journal, [], "{db}: the ledger has no journal (table inputs)"),
    (_no_settings, [], "{db}: the ledger records no currency (a ledger written before run settings were recorded?)"),
    (None, ["--until", "soon"], "{db}: --until: expected an RFC 3339 UTC time or a date, got 'soon'"),
    (None, ["--until", "2026-01-01"],
     "{db}: --until 2026-01-01T00:00:00Z is not after the run's start (2026-01-01T00:00:00Z)"),
    (None, ["--until", "2026-03-01T00:00:01Z"],
     "{db}: --until 2026-03-01T00:00:01Z is after the run's end (2026-03-01T00:00:00Z)"),
], ids=["not-sqlite", "other-sqlite", "missing", "no-journal", "no-settings", "bad-until", "until-at-start",
        "until-after-end"])
def test_errors_are_one_line_and_exit_2(make: object, args: list[str], message: str, tmp_path: Path,
                                        ledger: Path) -> None:
    db = make(tmp_path) if callable(make) else ledger
    out = tmp_path / "out.yaml"
    done = CliRunner().invoke(main, ["journal", "export", str(db), str(out), *args])
    assert done.exit_code == 2
    assert done.output == f"error: {message.format(db=db)}\n"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.yaml")] == []


def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path: Path, ledger: Path) -> None:
    out = tmp_path / "no-such-dir" / "out.yaml"
    done = CliRunner().invoke(main, ["journal", "export", str(ledger), str(out)])
    assert (done.exit_code, done.output) == (2, f"error: {out}: cannot write the scenario: No such file or directory\n")


def test_the_library_takes_until_as_microseconds_or_text(tmp_path: Path, ledger: Path) -> None:
    at = parse_at("2026-01-20")
    a = export_journal(ledger, tmp_path / "a.yaml", at)
    b = export_journal(ledger, tmp_path / "b.yaml", format_at(at))
    assert a == b == len(journal(ledger, at))
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()


def test_the_usage_short_path_writes_what_entry_of_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Usage copies its properties through as JSON; forcing every row down the careful path
    (to_scenario.entry_of) writes the same file."""
    src = tmp_path / "h.yaml"
    src.write_text(HOSTILE, encoding="utf-8")
    for i, path in enumerate((EXAMPLES / "generated-seats.yaml", EXAMPLES / "postpaid-and-csv.yaml", src)):
        simulate(path, tmp_path / str(i))
        db = tmp_path / str(i) / "ledger.sqlite"
        export_journal(db, tmp_path / f"short{i}.yaml")
        with monkeypatch.context() as m:
            m.setattr(journal_export, "_EXPONENT", re.compile(rb""))
            export_journal(db, tmp_path / f"careful{i}.yaml")
        assert (tmp_path / f"short{i}.yaml").read_bytes() == (tmp_path / f"careful{i}.yaml").read_bytes(), path.name


def test_format_at_is_what_datetime_writes() -> None:
    """format_at computes the time of day itself (the export formats a million instants)."""
    rng = random.Random(5)
    lo, hi = to_us(EARLIEST), to_us(LATEST)
    for at in [lo, hi - 1, 0, -1, 1, 86_400_000_000 - 1, *(rng.randrange(lo, hi) for _ in range(5_000)),
               *(rng.randrange(lo, hi) // 1_000_000 * 1_000_000 for _ in range(2_000))]:
        when = EPOCH + dt.timedelta(microseconds=at)
        assert format_at(at) == when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if when.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def test_a_catalog_id_at_the_length_limit_round_trips(tmp_path: Path) -> None:
    """`product:` + a 200-character id is longer than an id may be; the loader checks the id."""
    pid = "p" * MAX_ID_LENGTH
    (tmp_path / "l.yaml").write_text(f"""
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{{id: {pid}, type: subscription}}]
rate_cards: [{{id: std, rates: [{{product: {pid}, price: "1.00"}}]}}]
customers: [{{id: c, contract: {{rate_card: std, subscriptions: [{{id: s, product: {pid}}}]}}}}]
""")
    simulate(tmp_path / "l.yaml", tmp_path / "a")
    export_journal(tmp_path / "a" / "ledger.sqlite", tmp_path / "j.yaml")
    simulate(tmp_path / "j.yaml", tmp_path / "b")
    assert (tmp_path / "b" / "ledger.jsonl").read_bytes() == (tmp_path / "a" / "ledger.jsonl").read_bytes()


def test_a_json_export_reads_fast_and_simulates_the_same(tmp_path: Path) -> None:
    """OUT ending in .json: one JSON document, read by the loader's JSON path (no YAML
    construction), simulating to the same ledger and invoices as the YAML export."""
    from meterbook.scenarios import load as load_file

    src = EXAMPLES / "generated-seats.yaml"
    first = run_scenario(load(src), str(tmp_path / "a.sqlite"), src.name, src.parent)
    first.book.close()
    assert journal_export.export_journal(tmp_path / "a.sqlite", tmp_path / "j.json") == \
        journal_export.export_journal(tmp_path / "a.sqlite", tmp_path / "j.yaml")
    text = (tmp_path / "j.json").read_bytes()
    assert text.startswith(b'{"meterbook":1,') and text.endswith(b"\n]}\n")
    assert load_file(tmp_path / "j.json") == load_file(tmp_path / "j.yaml")
    outs = []
    for name in ("j.json", "j.yaml"):
        out = tmp_path / name.replace(".", "-")
        simulate(tmp_path / name, out)
        outs.append([(out / f).read_bytes() for f in ("ledger.jsonl", "invoices.json")])
    assert outs[0] == outs[1]


@pytest.mark.parametrize("path", FILES)
def test_json_scenarios_read_as_their_yaml_twins(path: Path) -> None:
    """Every example rewritten as JSON loads to the same Scenario, by the JSON path where it
    can be taken (no floats: generator parameters send a file down the YAML path)."""
    import yaml

    from meterbook.scenarios.load import _Loader, _plain_json

    raw = yaml.load(path.read_text(), Loader=_Loader)
    text = json.dumps(raw)
    assert load_text(text, path.name) == load_text(path.read_text(), path.name)
    has_float = "." in "".join(str(v) for v in _floats(raw))
    assert (_plain_json(text) is None) == has_float


def _floats(node: object) -> list[float]:
    if isinstance(node, dict):
        return [f for v in node.values() for f in _floats(v)]
    if isinstance(node, list):
        return [f for v in node for f in _floats(v)]
    return [node] if isinstance(node, float) else []


def test_json_with_a_repeated_key_gets_the_yaml_path_s_refusal() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text('{"meterbook": 1, "name": "a", "name": "b"}', "t.json")
    assert str(info.value) == ("t.json: $.name: the key 'name' is given twice in one mapping (lines 1 and 1); "
                               "remove one")
