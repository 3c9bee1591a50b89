"""Hardening of scenario loading: each defect class the mutation run found, one exact message.

Every case edits `tests/data/hardening-base.yaml` (which loads and runs) once and expects one
ScenarioError naming file, field path and a reason the user can act on."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from meterbook.scenarios import ScenarioError, load, load_text, scenario_warnings
from meterbook.scenarios.generators import generated_entries

BASE_FILE = Path(__file__).resolve().parent / "data" / "hardening-base.yaml"
BASE = BASE_FILE.read_text()
NAME = BASE_FILE.name

# (case, text to replace in BASE, replacement, expected "path: reason")
EDITS = [
    ('duplicate key',
     'name: Hardening base\n',
     'name: Hardening base\nname: Other\n',
     "$.name: the key 'name' is given twice in one mapping (lines 2 and 3); remove one"),
    ('alias use',
     'name: Hardening base\n',
     'name: &n Hardening base\nseed_alias: *n\n',
     '$.seed_alias: a YAML alias (*name) is not accepted; write the value out (aliases can expand a small file into gigabytes)'),
    ('merge key',
     '  - {id: acme, name: Acme, package: team, seats: [alice, bob]}\n',
     '  - &c {id: acme, name: Acme, package: team, seats: [alice, bob]}\n  - {<<: *c, id: acme2}\n',
     '$.customers[1]: YAML merge keys (<<) are not accepted (line 26); write the keys out'),
    ('set tag',
     'seats: [alice, bob]}',
     'seats: !!set {alice, bob}}',
     '$.customers[0].seats: the YAML tag !!set is not accepted (line 25); a scenario holds only mappings, lists, strings, numbers, booleans and null'),
    ('enum payer',
     '{id: acme, name: Acme,',
     '{id: acme, payer: boss, name: Acme,',
     "$.customers[0].payer: expected one of 'self', 'parent', got 'boss'"),
    ('enum aggregation',
     'aggregation: sum',
     'aggregation: avg',
     "$.products[1].metric.aggregation: expected one of 'count', 'sum', 'max', 'unique', got 'avg'"),
    ('enum product type',
     'name: Seat, type: subscription',
     'name: Seat, type: seat',
     "$.products[0].type: expected one of 'subscription', 'usage', got 'seat'"),
    ('enum allocation',
     'per_seat_of: seats, priority: 1',
     'per_seat_of: seats, allocation: shared, priority: 1',
     "$.packages[0].recurring_credits[0].allocation: expected one of 'pooled', 'individual', got 'shared'"),
    ('enum on_exhausted',
     '      rate_card: std\n      credits',
     '      rate_card: std\n      on_exhausted: stop\n      credits',
     "$.customers[1].contract.on_exhausted: expected one of 'bill', 'block', got 'stop'"),
    ('enum generator',
     'generator: per_seat',
     'generator: per_user',
     "$.usage[0].generator: expected one of 'per_seat', 'per_customer', got 'per_user'"),
    ('enum child_access',
     'end: 2026-02-01}]',
     'end: 2026-02-01, child_access: some}]',
     "$.customers[1].contract.credits[0].child_access: expected one of 'all', 'none', got 'some'"),
    ('enum commit type',
     'type: prepaid',
     'type: upfront',
     "$.customers[1].contract.commits[0].type: expected one of 'prepaid', 'postpaid', got 'upfront'"),
    ('enum version',
     'meterbook: 1',
     'meterbook: 2',
     '$.meterbook: expected one of 1, got 2'),
    ('date past 9999',
     'end: 2026-03-01\ncurrency',
     'end: 10000-03-01\ncurrency',
     "$.end: expected an instant in the years 1900 to 8999, got '10000-03-01'"),
    ('date beyond bound',
     'end: 2027-01-05}}',
     'end: 9999-12-31}}',
     "$.timeline[0].buy_credits.end: expected an instant in the years 1900 to 8999, got '9999-12-31'"),
    ('window over 100 years',
     'end: 2026-03-01\ncurrency',
     'end: 2127-01-01\ncurrency',
     '$.end: the simulation window is longer than 100 years'),
    ('months over bound',
     'start: 2026-01-01, end: 2026-02-01}]',
     'start: 2026-01-01, months: 1201}]',
     '$.customers[1].contract.credits[0].months: expected an integer from 1 to 1200, got 1201'),
    ('huge quantity priority',
     'price: "40.00", end',
     'price: "40.00", priority: 10000000, end',
     '$.timeline[0].buy_credits.priority: expected an integer from -1000000 to 1000000, got 10000000'),
    ('huge events_per_day',
     'events_per_day: 2',
     'events_per_day: 1000000',
     '$.usage[0].events_per_day: expected an integer from 1 to 100000, got 1000000'),
    ('zero events_per_day',
     'events_per_day: 2',
     'events_per_day: 0',
     '$.usage[0].events_per_day: expected an integer from 1 to 100000, got 0'),
    ('huge seed',
     'seed: 7',
     'seed: 100000000000000000000',
     '$.seed: expected an integer from 0 to 9223372036854775807, got 100000000000000000000'),
    ('amount 19 digits',
     'amount: "1000", price',
     'amount: "1000000000000000000", price',
     '$.timeline[0].buy_credits.amount: at most 18 digits before the decimal point, got 19'),
    ('quantity word',
     'properties: {credits: 30, user: alice}}}\n  - {at: 2026-01-07',
     'properties: {credits: ten, user: alice}}}\n  - {at: 2026-01-07',
     "$.timeline[1].usage.properties.credits: expected a finite number (an integer, a decimal string or a float), got 'ten'"),
    ('quantity bool',
     'properties: {credits: 30, user: alice}}}\n  - {at: 2026-01-07',
     'properties: {credits: true, user: alice}}}\n  - {at: 2026-01-07',
     '$.timeline[1].usage.properties.credits: expected a finite number (an integer, a decimal string or a float), got True'),
    ('quantity list',
     'properties: {credits: 30, user: alice}}}\n  - {at: 2026-01-07',
     'properties: {credits: [1], user: alice}}}\n  - {at: 2026-01-07',
     '$.timeline[1].usage.properties.credits: expected a finite number (an integer, a decimal string or a float), got [1]'),
    ('quantity nan',
     'properties: {credits: 30, user: alice}}}\n  - {at: 2026-01-07',
     'properties: {credits: .nan, user: alice}}}\n  - {at: 2026-01-07',
     '$.timeline[1].usage.properties.credits: expected a finite number (an integer, a decimal string or a float), got nan'),
    ('quantity inf',
     'properties: {credits: 30, user: alice}}}\n  - {at: 2026-01-07',
     'properties: {credits: .inf, user: alice}}}\n  - {at: 2026-01-07',
     '$.timeline[1].usage.properties.credits: expected a finite number (an integer, a decimal string or a float), got inf'),
    ('quantity negative',
     'properties: {credits: 30, user: alice}}}\n  - {at: 2026-01-07',
     'properties: {credits: -3, user: alice}}}\n  - {at: 2026-01-07',
     '$.timeline[1].usage.properties.credits: must not be negative, got -3; send a correction as a credit'),
    ('uniform missing high',
     '{uniform: {low: 1, high: 5}',
     '{uniform: {low: 1}',
     '$.usage[0].properties.credits.uniform.high: missing required field'),
    ('uniform low > high',
     '{uniform: {low: 1, high: 5}',
     '{uniform: {low: 6, high: 5}',
     '$.usage[0].properties.credits.uniform.low: must not exceed high (5), got 6'),
    ('uniform negative quantity',
     '{uniform: {low: 1, high: 5}',
     '{uniform: {low: -1, high: 5}',
     '$.usage[0].properties.credits.uniform.low: a quantity must not be negative, got -1'),
    ('uniform wrong type',
     '{uniform: {low: 1, high: 5}',
     '{uniform: {low: one, high: 5}',
     "$.usage[0].properties.credits.uniform.low: expected a finite number, got 'one'"),
    ('empty choice',
     '{uniform: {low: 1, high: 5}',
     '{choice: []',
     '$.usage[0].properties.credits.choice: expected a non-empty list, got []'),
    ('lognormal negative sigma',
     '{uniform: {low: 1, high: 5}',
     '{lognormal: {mean: 1, sigma: -0.5}',
     '$.usage[0].properties.credits.lognormal.sigma: expected a number from 0 to 5, got -0.5'),
    ('decimals negative',
     'decimals: 0}}',
     'decimals: -1}}',
     '$.usage[0].properties.credits.decimals: expected an integer from 0 to 12, got -1'),
    ('decimals huge',
     'decimals: 0}}',
     'decimals: 40}}',
     '$.usage[0].properties.credits.decimals: expected an integer from 0 to 12, got 40'),
    ('two distributions',
     '{uniform: {low: 1, high: 5}',
     '{uniform: {low: 1, high: 5}, choice: [1]',
     '$.usage[0].properties.credits: expected exactly one of lognormal, uniform, choice'),
    ('generator start outside',
     'events_per_day: 2,',
     'events_per_day: 2, start: 2025-12-01,',
     '$.usage[0].start: 2025-12-01T00:00:00Z lies outside the simulation window'),
    ('generator reversed',
     'events_per_day: 2,',
     'events_per_day: 2, start: 2026-02-01, end: 2026-01-15,',
     '$.usage[0].end: must be after start'),
    ('seat twice in add_seats',
     'seats: [erin]',
     'seats: [erin, erin]',
     "$.timeline[3].add_seats.seats[1]: seat 'erin' is listed twice"),
    ('two grants one id',
     '{id: prepay,',
     '{id: trial,',
     "$.customers[1].contract.commits[0].id: grant id 'trial' is also the id of $.customers[1].contract.credits[0]"),
    ('purchase id = contract grant id',
     '{customer: acme, credit_type: cr, amount',
     '{customer: bigco, id: trial, credit_type: cr, amount',
     "$.timeline[0].buy_credits.id: grant id 'trial' is also the id of $.customers[1].contract.credits[0] of customer 'bigco'"),
    ('empty usage id',
     'usage: {id: e2,',
     "usage: {id: '',",
     '$.timeline[4].usage.id: not a valid id: must not be empty'),
    ('empty customer id',
     '  - id: bigco\n',
     "  - id: ''\n",
     '$.customers[1].id: not a valid id: must not be empty'),
    ('padded product id',
     '{id: calls,',
     "{id: ' calls',",
     "$.products[2].id: not a valid id: ' calls' has leading or trailing whitespace"),
    ('control char seat',
     'seats: [alice, bob]',
     'seats: [alice, "b\\tob"]',
     "$.customers[0].seats[1]: not a valid id: 'b\\tob' contains a control character"),
    ('seat twice at start',
     'seats: [alice, bob]',
     'seats: [alice, alice]',
     "$.customers[0].seats[1]: seat 'alice' is listed twice"),
    ('negative price',
     '{product: seat, price: "10.00"}',
     '{product: seat, price: "-10.00"}',
     '$.rate_cards[0].rates[0].price: must not be negative, got -10.00'),
    ('negative tier price',
     '{product: calls, price: "0.00002"}',
     '{product: calls, tiers: [{up_to: "10", price: "-1"}, {price: "1"}]}',
     '$.rate_cards[0].rates[2].tiers[0].price: must not be negative, got -1'),
    ('zero tier up_to',
     '{product: calls, price: "0.00002"}',
     '{product: calls, tiers: [{up_to: "0", price: "1"}, {price: "1"}]}',
     '$.rate_cards[0].rates[2].tiers[0].up_to: must be greater than 0, got 0'),
    ('zero fiat_per_credit',
     'fiat_per_credit: "0.01"',
     'fiat_per_credit: "0"',
     '$.credit_types[0].fiat_per_credit: must be greater than 0, got 0'),
    ('negative purchase price',
     'price: "40.00", end',
     'price: "-40.00", end',
     '$.timeline[0].buy_credits.price: must not be negative, got -40.00'),
    ('purchase price finer than cents',
     'price: "40.00", end',
     'price: "40.001", end',
     "$.timeline[0].buy_credits.price: 40.001 is finer than USD's 2 decimals"),
    ('purchase amount finer than credit',
     'amount: "1000", price',
     'amount: "1000.5", price',
     "$.timeline[0].buy_credits.amount: 1000.5 is finer than cr's 0 decimals"),
    ('negative invoice item',
     'amount: "180.00"}',
     'amount: "-180.00"}',
     '$.customers[1].contract.commits[0].invoice[0].amount: must not be negative, got -180.00'),
    ('grant finer than cents',
     'amount: "50.00", priority',
     'amount: "50.005", priority',
     "$.customers[1].contract.credits[0].amount: 50.005 is finer than USD's 2 decimals"),
    ('recurring negative',
     'amount: "100", per_seat_of',
     'amount: "-100", per_seat_of',
     '$.packages[0].recurring_credits[0].amount: must not be negative, got -100'),
    ('recurring finer than credit',
     'amount: "100", per_seat_of',
     'amount: "100.5", per_seat_of',
     "$.packages[0].recurring_credits[0].amount: 100.5 is finer than cr's 0 decimals"),
    ('subscription price finer than cents',
     '{product: seat, price: "10.00"}',
     '{product: seat, price: "10.005"}',
     "$.rate_cards[0].rates[0].price: 10.005 is finer than USD's 2 decimals"),
    ('no fiat_per_credit with bill',
     ', fiat_per_credit: "0.01"',
     '',
     "$.credit_types[0].fiat_per_credit: needed: product 'ai' is priced in 'cr' on $.packages[0], which has on_exhausted: bill, so overage in 'cr' is billed in USD at this rate (or set on_exhausted: block there)"),
    ('purchase ends before it is bought',
     'end: 2027-01-05}}',
     'end: 2026-01-05}}',
     '$.timeline[0].buy_credits.end: 2026-01-05T00:00:00Z is not after the purchase (2026-01-05T00:00:00Z)'),
    ('credit ends before customer starts',
     '  - id: bigco\n',
     '  - id: bigco\n    start: 2026-02-15\n',
     "$.customers[1].contract.credits[0].end: 2026-02-01T00:00:00Z is not after customer 'bigco' starts (2026-02-15T00:00:00Z)"),
    ('invoice item after commit end',
     'invoice: [{at: 2026-01-01,',
     'invoice: [{at: 2026-05-01,',
     '$.customers[1].contract.commits[0].invoice[0].at: 2026-05-01T00:00:00Z is after the commit ends (2026-04-01T00:00:00Z)'),
    ('expect unknown seat',
     'seat: alice,',
     'seat: zed,',
     "$.expect.balances[0].seat: customer 'acme' never has a seat 'zed'"),
    ('expect unknown grant',
     'grant: trial,',
     'grant: trail,',
     "$.expect.balances[1].grant: customer 'bigco' has no grant 'trail'"),
]


@pytest.mark.parametrize(("old", "new", "message"), [c[1:] for c in EDITS], ids=[c[0] for c in EDITS])
def test_bad_edit_is_refused_with_exact_message(old: str, new: str, message: str, tmp_path: Path) -> None:
    assert old in BASE, old
    f = tmp_path / NAME
    f.write_text(BASE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as info:
        load(f)
    assert str(info.value) == f"{NAME}: {message}"


def test_base_loads_and_allows_a_repeated_usage_id() -> None:
    s = load(BASE_FILE)
    assert [e.usage.id for e in s.timeline if e.usage is not None] == ["e1", "e1", "e2"]


# -- whole files ------------------------------------------------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))

FILES = [
    ("empty", b"", "$: the file is empty"),
    ("comments only", b"# nothing here\n", "$: the file is empty"),
    ("null", b"null\n", "$: expected a mapping at the top level, got null"),
    ("top-level list", b"- meterbook: 1\n", "$: expected a mapping at the top level, got a list"),
    ("top-level string", b"hello", "$: expected a mapping at the top level, got a string"),
    ("not YAML", b"meterbook: [1\n", "$: not valid YAML (line 2, column 1): while parsing a flow sequence: "
                                      "did not find expected ',' or ']'"),
    ("not UTF-8", b"meterbook: 1\nname: caf\xe9\n",
     "$: not readable as text at byte 22: incomplete UTF-8 octet sequence (a scenario is UTF-8 YAML or JSON)"),
    ("binary", bytes(range(8)), "$: not readable as text at byte 0: control characters are not allowed "
                                "(a scenario is UTF-8 YAML or JSON)"),
    ("alias bomb", BOMB.encode(), "$.b[0]: a YAML alias (*name) is not accepted; write the value out "
                                  "(aliases can expand a small file into gigabytes)"),
    ("deep nesting", b"name: " + b"[" * 5000 + b"]" * 5000,
     "$: not valid YAML (line 1, column 1006): while increasing flow level: exceeded maximum nesting depth"),
    ("nesting over the limit", b"name: " + b"[" * 70 + b"]" * 70,
     "$.name" + "[0]" * 63 + ": nested more than 64 levels deep (line 1)"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in FILES], ids=[c[0] for c in FILES])
def test_bad_file_is_refused_with_exact_message(data: bytes, message: str, tmp_path: Path) -> None:
    f = tmp_path / "f.yaml"
    f.write_bytes(data)
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load(f)
    assert str(info.value) == f"f.yaml: {message}"
    assert time.perf_counter() - started < 5


def test_file_over_64_mib_is_refused_unread(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    with f.open("wb") as out:  # sparse: costs no disk
        out.truncate(64 * 1024 * 1024 + 1)
    with pytest.raises(ScenarioError) as info:
        load(f)
    assert str(info.value) == "big.yaml: $: the file is larger than 64 MiB; split it or read usage from a CSV file"


# -- CSV sources ------------------------------------------------------------------------------

CSV_SCENARIO = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: p, type: usage, metric: {event_type: e, aggregation: sum, property: n}}]
rate_cards: [{id: r, rates: [{product: p, price: "1.00"}]}]
customers: [{id: c, contract: {rate_card: r}}, {id: late, start: 2026-01-20, contract: {rate_card: r}}]
usage: [{csv: u.csv}]
"""
HEADER = b"transaction_id,customer_id,event_type,timestamp,properties\n"

CSVS = [
    ("not UTF-8", HEADER + b"x1,c,e,2026-01-02,{}\nx2,c,e,2026-01-03,\"{\"\"who\"\": \"\"\xe9\"\"}\"\n",
     "u.csv: line 3: not UTF-8 text (byte 111); save the file as UTF-8"),
    ("outside the window", HEADER + b"x1,c,e,2026-01-02,{}\nx2,c,e,2026-02-01,{}\n",
     "u.csv: line 3: timestamp 2026-02-01T00:00:00Z lies outside [2026-01-01T00:00:00Z, 2026-02-01T00:00:00Z) "
     "(the window, from customer 'c''s start)"),
    ("before the customer starts", HEADER + b"x1,late,e,2026-01-02,{}\n",
     "u.csv: line 2: timestamp 2026-01-02T00:00:00Z lies outside [2026-01-20T00:00:00Z, 2026-02-01T00:00:00Z) "
     "(the window, from customer 'late''s start)"),
    ("unknown customer", HEADER + b"x1,zz,e,2026-01-02,{}\n", "u.csv: line 2: customer_id: unknown customer 'zz'"),
    ("empty id", HEADER + b",c,e,2026-01-02,{}\n", "u.csv: line 2: transaction_id: must not be empty"),
    ("quantity not a number", HEADER + b"x1,c,e,2026-01-02,\"{\"\"n\"\": \"\"ten\"\"}\"\n",
     "u.csv: line 2: properties.n: expected a finite number (an integer, a decimal string or a float), got 'ten'"),
    ("quantity NaN", HEADER + b"x1,c,e,2026-01-02,\"{\"\"n\"\": NaN}\"\n",
     "u.csv: line 2: properties.n: expected a finite number (an integer, a decimal string or a float), got nan"),
    ("quantity negative", HEADER + b"x1,c,e,2026-01-02,\"{\"\"n\"\": -2}\"\n",
     "u.csv: line 2: properties.n: must not be negative, got -2; send a correction as a credit"),
    ("too few columns", HEADER + b"x1,c,e\n", "u.csv: line 2: expected 5 columns, got 3"),
    ("properties not an object", HEADER + b"x1,c,e,2026-01-02,[1]\n", "u.csv: line 2: properties: expected a JSON object"),
    ("wrong header", b"id,customer\n", "u.csv: line 1: expected columns transaction_id,customer_id,event_type,"
                                        "timestamp,properties"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in CSVS], ids=[c[0] for c in CSVS])
def test_bad_csv_names_file_and_line(data: bytes, message: str, tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_bytes(data)
    s = load_text(CSV_SCENARIO, "s.yaml")
    with pytest.raises(ScenarioError) as info:
        list(generated_entries(s, "s.yaml", tmp_path))
    assert str(info.value) == message


def test_missing_csv_names_the_usage_path(tmp_path: Path) -> None:
    s = load_text(CSV_SCENARIO, "s.yaml")
    with pytest.raises(ScenarioError) as info:
        list(generated_entries(s, "s.yaml", tmp_path))
    assert str(info.value) == "s.yaml: $.usage[0].csv: cannot read u.csv: No such file or directory"


def test_csv_rows_in_any_order_come_out_sorted(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_bytes(HEADER + b"b,c,e,2026-01-09,{}\na,c,e,2026-01-02,{}\nc,c,e,2026-01-09,{}\n")
    s = load_text(CSV_SCENARIO, "s.yaml")
    assert [e.usage.id for e in generated_entries(s, "s.yaml", tmp_path)] == ["a", "b", "c"]


# -- generated usage streams in time order ----------------------------------------------------

STREAM = """
meterbook: 1
seed: 5
start: 2026-01-01
end: 2036-01-01
products: [{id: p, type: usage, metric: {event_type: e, aggregation: sum, property: n}}]
rate_cards: [{id: r, rates: [{product: p, price: "1.00"}]}]
customers: [{id: c, contract: {rate_card: r}}, {id: d, contract: {rate_card: r}}]
usage:
  - {generator: per_customer, event_type: e, events_per_day: 1000, properties: {n: {uniform: {low: 0, high: 9}}}}
  - {generator: per_customer, customers: [d], event_type: e, events_per_day: 3, properties: {n: 1}}
"""


def test_generated_entries_stream_in_time_order_without_materialising(tmp_path: Path) -> None:
    s = load_text(STREAM, "s.yaml")
    started = time.perf_counter()
    stream = generated_entries(s, "s.yaml", tmp_path)
    # Ten years at 2,000 events a day would be 7 million entries: only the first days are made.
    first = [next(stream) for _ in range(6000)]
    assert time.perf_counter() - started < 10
    assert all(a.at <= b.at for a, b in itertools.pairwise(first))
    assert {e.usage.id.split("-")[0] for e in first} == {"g0", "g1"}


# -- warnings: legal defaults that cost money -------------------------------------------------

def test_scenario_warnings_name_free_credits_and_seatless_subscriptions() -> None:
    text = BASE.replace('price: "40.00", ', "").replace(", seats: [alice, bob]}", "}").replace(
        "seats: [erin]", "seats: [alice]").replace("seat: alice,", "seat: erin,".replace("erin", "alice"))
    s = load_text(text, NAME)
    assert scenario_warnings(s) == [
        "$.timeline[0].buy_credits.price: no price given, so these credits are free (write price: \"0\" to say so)",
        "$.customers[0].seats: subscription 'seats' is seat-based but no seats are given, so it charges nothing "
        "until seats are added",
    ]
    assert scenario_warnings(load(BASE_FILE)) == []
    assert scenario_warnings(load_text(BASE.replace('price: "40.00"', 'price: "0"'), NAME)) == []
