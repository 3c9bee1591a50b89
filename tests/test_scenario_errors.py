"""Bad scenario input: one exact message (file, path, reason) and no output files written."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterbook.engine.simulate import simulate
from meterbook.scenarios import ScenarioError, load_text
from tests.conftest import EXAMPLES

GOOD = (EXAMPLES / "usage-and-commits.yaml").read_text()


def broken(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


CASES = [
    ("float amount", broken('{product: storage, price: "0.50"}', "{product: storage, price: 0.5}"),
     "usage-and-commits.yaml: $.rate_cards[0].rates[2].price: expected a decimal string, got 0.5"),
    ("unknown field", broken("name: Acme\n", "name: Acme\n    colour: blue\n"),
     "usage-and-commits.yaml: $.customers[0].colour: unknown field"),
    ("unknown product", broken("{product: compute, price: \"0.10\"}", "{product: gpu, price: \"0.10\"}"),
     "usage-and-commits.yaml: $.rate_cards[0].rates[3].product: unknown product 'gpu'"),
    ("missing required", broken("      rate_card: std\n", ""),
     "usage-and-commits.yaml: $.customers[0].contract.rate_card: missing required field"),
    ("malformed date", broken("start: 2026-01-01\nend:", "start: 2026-13-01\nend:"),
     "usage-and-commits.yaml: $.start: expected an RFC 3339 UTC time or a date, got '2026-13-01'"),
    ("empty file", "", "usage-and-commits.yaml: $: the file is empty"),
    ("unknown customer", broken("{id: j3, customer: acme,", "{id: j3, customer: acne,"),
     "usage-and-commits.yaml: $.timeline[9].usage.customer: unknown customer 'acne'"),
    ("integer amount", broken('amount: "50.00"', "amount: 50"),
     "usage-and-commits.yaml: $.customers[0].contract.credits[0].amount: expected a decimal string, got 50"),
    ("two commands", broken("- {at: 2026-02-05T00:00:00Z, usage:",
                            "- {at: 2026-02-05T00:00:00Z, set_quantity: {customer: acme, subscription: platform, quantity: 2}, usage:"),
     "usage-and-commits.yaml: $.timeline[9]: expected exactly one of usage, add_seats, remove_seats, "
     "set_quantity, buy_credits, change_package, migrate_package, update_rate, update_package, set_parent, "
     "create_credit_type, create_product, create_rate_card, add_rate, create_package, create_customer, edit_contract; "
     "got usage, set_quantity"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in CASES], ids=[c[0] for c in CASES])
def test_bad_scenario_is_refused_with_exact_message(text: str, message: str, tmp_path: Path) -> None:
    f = tmp_path / "usage-and-commits.yaml"
    f.write_text(text)
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as info:
        simulate(f, out)
    assert str(info.value) == message
    assert not out.exists() or list(out.iterdir()) == []


def test_error_parts_are_separate_fields() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(broken('{product: storage, price: "0.50"}', "{product: storage, price: 0.5}"), "x.yaml")
    err = info.value
    assert (err.file, err.path, err.reason) == ("x.yaml", "$.rate_cards[0].rates[2].price",
                                                "expected a decimal string, got 0.5")


def test_json_scenario_is_accepted() -> None:
    import json

    import yaml

    data = yaml.safe_load(GOOD)
    text = json.dumps(data, default=str)
    s = load_text(text, "x.json")
    assert s.customers[0].id == "acme"


def test_parent_cycle_is_named() -> None:
    text = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: api, type: usage, metric: {event_type: call, aggregation: count}}]
rate_cards: [{id: std, rates: [{product: api, price: "1.00"}]}]
customers:
  - {id: a, parent: c, contract: {rate_card: std}}
  - {id: b, parent: a, contract: {rate_card: std}}
  - {id: c, parent: b, contract: {rate_card: std}}
"""
    with pytest.raises(ScenarioError) as info:
        load_text(text, "cycle.yaml")
    assert str(info.value) == "cycle.yaml: $.customers[0].parent: cycle in parent: a -> c -> b -> a"
