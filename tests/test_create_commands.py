"""Everything declared can be created in the timeline instead (SCENARIOS.md "Creating and
editing at run time"): a file written either way gives the same invoices, balances and ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meterbook.engine.results import encode_json
from meterbook.engine.simulate import run_scenario
from meterbook.errors import ScenarioError
from meterbook.ledger import export_lines
from meterbook.scenarios import load, load_text
from meterbook.scenarios.load import parse_text
from tests.conftest import EXAMPLES, SHARED

FILES = sorted(EXAMPLES.glob("*.yaml")) + (sorted(SHARED.glob("*.yaml")) if SHARED.is_dir() else [])
SECTIONS = (("credit_types", "create_credit_type"), ("products", "create_product"), ("rate_cards", "create_rate_card"),
            ("packages", "create_package"))


def parents_first(customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    made: set[str] = set()
    while len(out) < len(customers):
        for c in customers:
            if c["id"] not in made and (c.get("parent") is None or c["parent"] in made):
                out.append(c)
                made.add(c["id"])
    return out


def as_created(text: str) -> str:
    """The same scenario with every catalog entry and customer as a create command at start."""
    doc = parse_text(text, "x.yaml")  # the project's own parse: times stay text, amounts strings
    start = doc["start"]
    creates = []
    for section, command in SECTIONS:
        creates += [{"at": start, "id": f"{command}:{item['id']}", command: item} for item in doc.pop(section, [])]
    creates += [{"at": start, "create_customer": c} for c in parents_first(doc.pop("customers", []))]
    timeline = doc.get("timeline", [])
    for i, entry in enumerate(timeline):
        # A command without an id is named by its place in the timeline (`timeline-N`, and a
        # purchase `purchase-N`): moving it would rename it, so name it as it was.
        if "usage" not in entry:
            entry.setdefault("id", f"timeline-{i}")
        if "buy_credits" in entry:
            entry["buy_credits"].setdefault("id", f"purchase-{i}")
    doc["timeline"] = creates + timeline
    return yaml.safe_dump(doc, sort_keys=False)


def run(text: str, name: str, base: Path, tmp: Path) -> tuple[bytes, bytes, bytes]:
    scenario = load_text(text, name)
    results = run_scenario(scenario, str(tmp / "ledger.sqlite"), name, base)
    invoices = encode_json(results.invoices())
    summary = results.summary()
    del summary["inputs"]  # created catalog entries are inputs too: only the counts differ
    balances = encode_json(summary)
    results.book.flush()
    ledger = export_lines(results.book.conn)
    results.book.close()
    return invoices, balances, ledger


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_created_is_the_same_as_declared(path: Path, tmp_path: Path) -> None:
    text = path.read_text()
    rewritten = as_created(text)
    assert "create_customer" in rewritten
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    declared = run(text, path.name, path.parent, tmp_path / "a")
    created = run(rewritten, path.name, path.parent, tmp_path / "b")
    assert created[0] == declared[0]  # invoices
    assert created[1] == declared[1]  # balances, denials, breakage per customer
    assert created[2] == declared[2]  # the ledger, byte for byte
    expect = load_text(rewritten, path.name).expect
    assert expect == load(path).expect


HEAD = """
meterbook: 1
start: 2026-01-01
end: 2026-03-01
timeline:
"""
PRODUCT = "  - {at: %s, create_product: {id: api, type: usage, metric: {event_type: call, aggregation: count}}}\n"
CARD = '  - {at: %s, create_rate_card: {id: r, rates: [{product: api, price: "0.10"}]}}\n'
CUSTOMER = "  - {at: %s, create_customer: {id: c, contract: {rate_card: r}%s}}\n"
USE = "  - {at: %s, usage: {id: e1, customer: c, event_type: call}}\n"


@pytest.mark.parametrize(("text", "message"), [
    (HEAD + PRODUCT % "2026-01-10" + CARD % "2026-01-05",
     "t.yaml: $.timeline[1].create_rate_card.rates[0].product: product 'api' is created later, at 2026-01-10T00:00:00Z"),
    (HEAD + PRODUCT % "2026-01-01" + CARD % "2026-01-01" + CUSTOMER % ("2026-01-10", ", start: 2026-01-05"),
     "t.yaml: $.timeline[2].create_customer.start: 2026-01-05T00:00:00Z is before the customer is created, "
     "at 2026-01-10T00:00:00Z"),
    (HEAD + PRODUCT % "2026-01-01" + CARD % "2026-01-01" + CUSTOMER % ("2026-01-10", "") + USE % "2026-01-05",
     "t.yaml: $.timeline[3].usage: usage at 2026-01-05T00:00:00Z: customer 'c' starts at 2026-01-10T00:00:00Z"),
    (HEAD + PRODUCT % "2026-01-01" + PRODUCT % "2026-01-02",
     "t.yaml: $.timeline[1].create_product.id: duplicate product id 'api'"),
    (HEAD + PRODUCT % "2026-01-01" + "  - {at: 2026-01-02, add_rate: {rate_card: nope, product: api, price: \"1.00\"}}\n",
     "t.yaml: $.timeline[1].add_rate.rate_card: unknown rate card 'nope'"),
    (HEAD + PRODUCT % "2026-01-01" + "  - {at: 2026-01-02, id: timeline-0, add_rate: {rate_card: r, product: api, "
     "price: \"1.00\"}}\n",
     "t.yaml: $.timeline[1].id: 'timeline-0' is the name of $.timeline[0], which has no id of its own"),
])
def test_bad_create_commands_are_refused(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "t.yaml")
    assert str(info.value) == message


def test_a_catalog_created_mid_run_bills_from_its_instant(run_text: Any) -> None:
    r = run_text(HEAD + PRODUCT % "2026-01-01" + CARD % "2026-01-01" + CUSTOMER % ("2026-01-10", "")
                 + USE % "2026-01-12"
                 + "  - {at: 2026-02-01, add_rate: {rate_card: r, product: api, price: \"0.25\"}}\n"
                 + "  - {at: 2026-02-03, usage: {id: e2, customer: c, event_type: call}}\n", "t.yaml")
    from meterbook.scenarios import parse_at

    # Created on Jan 10: a short first period from then; Feb's event at the added rate.
    assert r.money(r.invoice_total("c", parse_at("2026-01-10"))) == "0.10"
    assert r.money(r.invoice_total("c", parse_at("2026-02-01"))) == "0.25"
