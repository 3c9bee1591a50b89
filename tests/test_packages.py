"""Packages: provisioning, rate changes that flow, overrides that pin, plan changes up and
down, versions and migrations, and revenue by package."""

from __future__ import annotations

import pytest

from meterbook.engine.reports import package_report
from meterbook.scenarios import ScenarioError, parse_at

HEAD = """
meterbook: 1
start: 2026-01-01
end: 2026-03-01
credit_types: [{id: cr, decimals: 0, fiat_per_credit: "0.05"}]
products:
  - {id: basic_plan, type: subscription}
  - {id: pro_plan, type: subscription}
  - {id: gen, type: usage, metric: {event_type: gen, aggregation: sum, property: n}}
  - {id: api, type: usage, metric: {event_type: api, aggregation: sum, property: n}}
rate_cards:
  - id: card
    rates:
      - {product: basic_plan, price: "10.00"}
      - {product: pro_plan, price: "31.00"}
      - {product: gen, price: "1", credit_type: cr}
      - {product: api, price: "0.10"}
packages:
  - id: basic
    rate_card: card
    subscriptions: [{id: plan, product: basic_plan, quantity: 1}]
    recurring_credits: [{credit_type: cr, amount: "100", priority: 1}]
  - id: pro
    rate_card: card
    subscriptions: [{id: plan, product: pro_plan, quantity: 1}]
    recurring_credits: [{credit_type: cr, amount: "310", priority: 1}]
    overrides: [{product: api, price: "0.05"}]
customers:
  - {id: a, package: basic}
  - {id: b, package: pro}
timeline:
"""


def total(r, customer: str, period: str) -> str:
    return r.money(r.invoice_total(customer, parse_at(period)))


def ev(i: int, customer: str, at: str, kind: str, n: int) -> str:
    return f"  - {{at: {at}, usage: {{id: u{i}, customer: {customer}, event_type: {kind}, properties: {{n: {n}}}}}}}\n"


def test_usage_rate_change_mid_period_splits_at_the_instant(run_text) -> None:
    r = run_text(HEAD + ev(1, "a", "2026-01-10", "api", 100)
                 + "  - {at: 2026-01-15, update_rate: {rate_card: card, product: api, price: \"0.20\"}}\n"
                 + ev(2, "a", "2026-01-15", "api", 100) + ev(3, "a", "2026-01-14T23:59:59Z", "api", 10))
    # 110 x 0.10 before the change, 100 x 0.20 from its instant on.
    assert total(r, "a", "2026-01-01") == "41.00"


def test_subscription_price_change_mid_period_applies_next_period(run_text) -> None:
    r = run_text(HEAD + "  - {at: 2026-01-20, update_rate: {rate_card: card, product: basic_plan, price: \"12.00\"}}\n")
    assert total(r, "a", "2026-01-01") == "10.00"
    assert total(r, "a", "2026-02-01") == "12.00"


def test_scheduled_rate_in_file_flows_without_migration(run_text) -> None:
    text = HEAD.replace('{product: basic_plan, price: "10.00"}',
                        '{product: basic_plan, price: "10.00"}\n      - {product: basic_plan, price: "11.00", starting_at: 2026-02-01}')
    r = run_text(text + ev(1, "a", "2026-01-02", "gen", 1))
    assert total(r, "a", "2026-02-01") == "11.00"


def test_override_survives_rate_card_change(run_text) -> None:
    r = run_text(HEAD + "  - {at: 2026-01-05, update_rate: {rate_card: card, product: api, price: \"0.30\"}}\n"
                 + ev(1, "b", "2026-01-10", "api", 100) + ev(2, "a", "2026-01-10", "api", 100))
    assert total(r, "b", "2026-01-01") == "36.00"   # 31.00 + 100 x 0.05 (pinned)
    assert total(r, "a", "2026-01-01") == "40.00"   # 10.00 + 100 x 0.30


def test_downgrade_mid_period(run_text) -> None:
    r = run_text(HEAD + ev(1, "b", "2026-01-05", "gen", 10)
                 + "  - {at: 2026-01-17, change_package: {customer: b, to: basic}}\n"
                 + ev(2, "b", "2026-01-20", "gen", 60))
    # 15/31 left: -31.00 x 15/31 = -15.00; +10.00 x 15/31 = 4.84; pro's 300 unused forfeited;
    # basic grants 100 x 15/31 = 48 credits; 60 used: 12 overage x 0.05 = 0.60.
    assert total(r, "b", "2026-01-01") == "21.44"
    assert r.breakage("b", "cr", parse_at("2026-01-01")) == 300_000_000
    assert r.amount("cr", r.balance("b", "cr", parse_at("2026-01-17"))) == "48"
    assert total(r, "b", "2026-02-01") == "10.00"


def test_upgrade_twice_in_one_period(run_text) -> None:
    text = HEAD.replace("customers:\n", """  - id: max
    rate_card: card
    subscriptions: [{id: plan, product: pro_plan, quantity: 2}]
customers:
""")
    r = run_text(text + "  - {at: 2026-01-11, change_package: {customer: a, to: pro}}\n"
                 + "  - {at: 2026-01-21, change_package: {customer: a, to: max}}\n")
    # basic 10.00; on Jan 11 (21/31 left): -6.77 + 21.00; on Jan 21 (11/31): -11.00 + 22.00.
    assert total(r, "a", "2026-01-01") == "35.23"
    assert total(r, "a", "2026-02-01") == "62.00"
    history = [(p, v) for _, p, v in r.runtime.customer("a").package_history]
    assert history == [("basic", 0), ("pro", 0), ("max", 0)]


def test_change_at_period_start_refunds_in_full(run_text) -> None:
    r = run_text(HEAD + "  - {at: 2026-02-01, change_package: {customer: a, to: pro}}\n")
    assert total(r, "a", "2026-02-01") == "31.00"


def test_new_version_applies_to_later_customers_until_migrated(run_text) -> None:
    text = HEAD.replace("  - {id: b, package: pro}\n", "  - {id: b, package: pro}\n  - {id: late, package: basic, start: 2026-02-01}\n")
    r = run_text(text + """  - at: 2026-01-15
    update_package:
      package: basic
      rate_card: card
      subscriptions: [{id: plan, product: basic_plan, quantity: 1}]
      recurring_credits: [{credit_type: cr, amount: "200", priority: 1}]
      overrides: [{product: basic_plan, price: "9.00"}]
  - {at: 2026-02-10, migrate_package: {customer: a, to: basic}}
""")
    # a stays on version 0 (10.00, 100 credits) until migrated on Feb 10 (19/28 left):
    # -10.00 x 19/28 = -6.79, +9.00 x 19/28 = 6.11.
    assert total(r, "a", "2026-02-01") == "9.32"
    assert r.amount("cr", r.balance("a", "cr", parse_at("2026-02-05"))) == "100"
    assert r.amount("cr", r.balance("a", "cr", parse_at("2026-02-10"))) == "136"
    # late starts after the new version: provisioned from it.
    assert total(r, "late", "2026-02-01") == "9.00"
    assert r.amount("cr", r.balance("late", "cr", parse_at("2026-02-01"))) == "200"
    assert [(p, v) for _, p, v in r.runtime.customer("a").package_history] == [("basic", 0), ("basic", 1)]


def test_revenue_by_package_sums_to_total(run_text) -> None:
    r = run_text(HEAD + ev(1, "a", "2026-01-03", "gen", 130) + ev(2, "a", "2026-01-04", "api", 7)
                 + "  - {at: 2026-01-09T07:13:00Z, change_package: {customer: a, to: pro}}\n"
                 + ev(3, "a", "2026-01-20", "api", 13) + ev(4, "b", "2026-01-20", "gen", 999))
    report = package_report(r)
    for period in ("2026-01-01", "2026-02-01"):
        by_pkg = sum(int(row["revenue"].replace(".", "")) for row in report["revenue"]
                     if row["period"].startswith(period))
        invoiced = sum(r.invoice_total(c, parse_at(period)) for c in ("a", "b")) // 10**6
        assert by_pkg == invoiced, period
    jan = {row["package"]: row["revenue"] for row in report["revenue"] if row["period"].startswith("2026-01")}
    # a on basic: 10.00 + 30 credits over x 0.05 = 1.50 + 7 x 0.10 = 0.70, then on Jan 9 07:13
    # (1,961,220 s of 2,678,400 left) -7.32. Pro: a's 22.70 + 13 x 0.05 = 0.65, and b's
    # 31.00 + 689 credits over x 0.05 = 34.45. The api line (1.35) splits 0.70 / 0.65.
    assert jan == {"basic": "4.88", "pro": "88.80"}


@pytest.mark.parametrize(("change", "message"), [
    ("  - {at: 2026-01-10, change_package: {customer: b, to: pro}}\n",
     "t.yaml: $.timeline[0]: change_package at 2026-01-10T00:00:00Z: customer b is already on package 'pro'"),
    ("  - {at: 2026-01-10, change_package: {customer: late, to: pro}}\n",
     "t.yaml: $.timeline[0].change_package: change_package at 2026-01-10T00:00:00Z: customer 'late' starts at "
     "2026-02-01T00:00:00Z"),
])
def test_bad_package_changes(run_text, change: str, message: str) -> None:
    text = HEAD.replace("  - {id: b, package: pro}\n", "  - {id: b, package: pro}\n  - {id: late, package: basic, start: 2026-02-01}\n")
    with pytest.raises(ScenarioError) as info:
        run_text(text + change, "t.yaml")
    assert str(info.value) == message


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  - id: basic\n    rate_card: card", "  - id: basic\n    rate_card: cardd",
     "t.yaml: $.packages[0].rate_card: unknown rate card 'cardd'"),
    ("overrides: [{product: api,", "overrides: [{product: apx,",
     "t.yaml: $.packages[1].overrides[0].product: unknown product 'apx'"),
    ("subscriptions: [{id: plan, product: basic_plan,", "subscriptions: [{id: plan, product: nope,",
     "t.yaml: $.packages[0].subscriptions[0].product: unknown product 'nope'"),
])
def test_bad_package_definitions(run_text, old: str, new: str, message: str) -> None:
    assert old in HEAD
    with pytest.raises(ScenarioError) as info:
        run_text(HEAD.replace(old, new) + ev(1, "a", "2026-01-02", "gen", 1), "t.yaml")
    assert str(info.value) == message
