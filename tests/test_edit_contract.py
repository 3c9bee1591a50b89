"""edit_contract (SCENARIOS.md "Creating and editing at run time"; docs/semantics.md, "Editing
a contract"): what each addition bills and grants, figured by hand; the refusals of a file
(exact error paths) and of the runtime (the answer's field, and nothing changed); the journal
of a run with edits replaying to the same ledger."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterbook.actors.catalog import GrantTemplate, RecurringSpec, SubscriptionSpec, make_price
from meterbook.engine import inputs as ins
from meterbook.engine.expect import check_expectations
from meterbook.engine.from_scenario import declared_inputs
from meterbook.engine.results import Results
from meterbook.engine.simulate import run_scenario, runtime_for
from meterbook.errors import ScenarioError
from meterbook.ledger import Book, export_lines
from meterbook.scenarios import load, load_text, parse_at
from tests.conftest import EXAMPLES
from tests.test_journal import journal

EXAMPLE = EXAMPLES / "edit-contract.yaml"


def lines(results: Results, customer: str, period: str) -> list[tuple[str, str]]:
    """(kind, amount) of one invoice's lines, in the order they were added."""
    inv = next(i for i in results.invoices() if i.customer == customer and i.period == f"{period}T00:00:00Z")
    return [(line.kind, line.amount) for line in inv.lines]


# -- figures ---------------------------------------------------------------------------------

def test_edit_contract_example_figures(tmp_path: Path) -> None:
    """The bundled example, line by line (its expect: block pins balances and breakage too)."""
    s = load(EXAMPLE)
    r = run_scenario(s, str(tmp_path / "l.sqlite"), EXAMPLE.name, EXAMPLE.parent)
    # January: seats 2 x 10.00; the fee added on the 11th, 31.00 x 21/31; the commit's item
    # dated at its start; 80 calls x 0.10 = 8.00 of which the 5.00 commit pays 5.00; the AI
    # credits added on the 16th pay for the 30 AI credits used (nothing billed).
    assert lines(r, "acme", "2026-01-01") == [
        ("subscription", "20.00"), ("subscription", "21.00"), ("commit_invoice", "5.00"), ("usage", "3.00"),
        ("usage", "0.00")]
    # February: both subscriptions in advance; 200 calls at the pinned 0.05 (not the rate
    # card's 0.20 from the 10th) = 10.00, 2.00 of it paid by the promo credit; erin's seat
    # 10.00 x 13/28 = 4.642... -> 4.64.
    assert lines(r, "acme", "2026-02-01") == [
        ("subscription", "20.00"), ("subscription", "31.00"), ("usage", "8.00"), ("subscription_increase", "4.64")]
    assert check_expectations(r, s.expect) == []
    grants = {g.terms.id: g.terms.units for g in r.grants("acme")}
    # 2 x round(100 x 16/31) = 104; 2 x 100; erin's round(100 x 13/28) = 46 (ledger scale 6).
    assert grants["ai_pool/2026-01-16"] == 104 * 10**6
    assert grants["ai_pool/2026-02-01"] == 200 * 10**6
    assert grants["ai_pool/2026-02-16"] == 46 * 10**6
    r.book.close()


HEAD = """meterbook: 1
start: 2026-01-01
end: 2026-03-01
timeline:
  - {at: 2026-01-01, create_product: {id: fee, type: subscription}}
  - {at: 2026-01-01, create_product: {id: api, type: usage, metric: {event_type: call, property: n}}}
  - {at: 2026-01-01, create_rate_card: {id: std, rates: [{product: api, price: "0.10"}]}}
  - {at: 2026-01-01, add_rate: {rate_card: std, product: fee, price: "31.00"}}
  - {at: 2026-01-01, create_customer: {id: acme, contract: {rate_card: std}}}
"""


def test_edit_contract_in_a_ledger_created_from_empty(run_text: Any) -> None:
    r = run_text(HEAD + """\
  - {at: 2026-01-10, create_product: {id: support, type: subscription}}
  - {at: 2026-01-10, add_rate: {rate_card: std, product: support, price: "3.10"}}
  - {at: 2026-01-10, edit_contract: {customer: acme, add_subscriptions: [{id: sup, product: support}]}}
  - {at: 2026-02-01, edit_contract: {customer: acme, add_overrides: [{product: api, price: "0.05"}]}}
  - {at: 2026-02-10, add_rate: {rate_card: std, product: api, price: "0.20"}}
  - {at: 2026-02-15, usage: {id: u2, customer: acme, event_type: call, properties: {n: 100}}}
""")
    # The support product had no price at the period's start, so its first charge is priced
    # at the edit: 3.10 x 22/31 = 2.20. February: 3.10 in advance; 100 calls at the pinned
    # 0.05 = 5.00 (the rate card's 0.20 would make 20.00).
    assert lines(r, "acme", "2026-01-01") == [("subscription", "2.20")]
    assert lines(r, "acme", "2026-02-01") == [("subscription", "3.10"), ("usage", "5.00")]


def test_an_added_subscription_without_proration_pays_in_full(run_text: Any) -> None:
    r = run_text(HEAD + """\
  - {at: 2026-01-11, edit_contract: {customer: acme,
                                     add_subscriptions: [{id: plat, product: fee, quantity: 2, proration: false}]}}
  - {at: 2026-01-21, set_quantity: {customer: acme, subscription: plat, quantity: 3}}
""")
    # 2 x 31.00 in full on the 11th; the increase to 3 on the 21st, in full too: 31.00.
    assert lines(r, "acme", "2026-01-01") == [("subscription", "62.00"), ("subscription_increase", "31.00")]
    assert lines(r, "acme", "2026-02-01") == [("subscription", "93.00")]


RECURRING = HEAD + """\
  - {at: 2026-01-11, edit_contract: {customer: acme,
                                     add_recurring_credits: [{id: monthly, amount: "31.00", rollover: "0.5"}]}}
expect:
  balances:
    - {customer: acme, grant: monthly/2026-01-11, credit_type: USD, at: 2026-01-20, balance: "21.00"}
    - {customer: acme, credit_type: USD, at: 2026-02-01, balance: "41.50"}
  breakage:
    - {customer: acme, credit_type: USD, period: 2026-01-01, amount: "10.50"}
    - {customer: acme, credit_type: USD, period: 2026-02-01, amount: "41.50"}
"""


def test_an_added_recurring_credit_is_prorated_then_whole_and_rolls_over(run_text: Any) -> None:
    # Added on the 11th, 21 of 31 days left: 31.00 x 21/31 = 21.00 for January. Unused, half
    # of it rolls over (0.5 x 21.00 = 10.50) and 10.50 expires; February grants 31.00 whole,
    # so 41.50 is there on Feb 1, all of it expiring unused at the end.
    r = run_text(RECURRING)
    assert check_expectations(r, load_text(RECURRING, "t.yaml").expect) == []


def test_a_package_change_replaces_the_edited_contract(run_text: Any) -> None:
    r = run_text("""meterbook: 1
start: 2026-01-01
end: 2026-03-01
products: [{id: fee, type: subscription}, {id: pro_fee, type: subscription}]
rate_cards: [{id: std, rates: [{product: fee, price: "31.00"}, {product: pro_fee, price: "62.00"}]}]
packages:
  - {id: basic, rate_card: std}
  - {id: pro, rate_card: std, subscriptions: [{id: pro, product: pro_fee}]}
customers: [{id: acme, package: basic}]
timeline:
  - {at: 2026-01-11, edit_contract: {customer: acme, add_subscriptions: [{id: plat, product: fee}]}}
  - {at: 2026-01-21, change_package: {customer: acme, to: pro}}
""")
    # 31.00 x 21/31 = 21.00 for the added fee; on the 21st (11 of 31 days left) its unused
    # 31.00 x 11/31 = 11.00 is credited and pro charges 62.00 x 11/31 = 22.00. February: pro only.
    assert lines(r, "acme", "2026-01-01") == [
        ("subscription", "21.00"), ("subscription_credit", "-11.00"), ("subscription", "22.00")]
    assert lines(r, "acme", "2026-02-01") == [("subscription", "62.00")]


# -- refusals in files -------------------------------------------------------------------------

EDIT = "  - {at: 2026-01-10, edit_contract: {customer: %s, %s}}\n"
WITH_PARTS = HEAD.replace("contract: {rate_card: std}", 'contract: {rate_card: std, credits: [{amount: "1.00"}], '
                                                         "subscriptions: [{id: p, product: fee}]}")

FILE_REFUSALS = [
    ("start before at", WITH_PARTS + EDIT % ("acme", 'add_credits: [{amount: "1.00", start: 2026-01-09}]'),
     "t.yaml: $.timeline[5].edit_contract.add_credits[0].start: 2026-01-09T00:00:00Z is before the entry's at "
     "(2026-01-10T00:00:00Z)"),
    ("unknown customer", WITH_PARTS + EDIT % ("nobody", 'add_credits: [{amount: "1.00"}]'),
     "t.yaml: $.timeline[5].edit_contract.customer: unknown customer 'nobody'"),
    ("customer not yet created", WITH_PARTS + EDIT % ("late", 'add_credits: [{amount: "1.00"}]')
     + "  - {at: 2026-01-20, create_customer: {id: late, contract: {rate_card: std}}}\n",
     "t.yaml: $.timeline[5].edit_contract: edit_contract at 2026-01-10T00:00:00Z: customer 'late' starts at "
     "2026-01-20T00:00:00Z"),
    ("subscription the customer has", WITH_PARTS + EDIT % ("acme", "add_subscriptions: [{id: p, product: fee}]"),
     "t.yaml: $.timeline[5].edit_contract.add_subscriptions[0].id: customer 'acme' already has a subscription 'p'"),
    ("grant id the contract has", WITH_PARTS + EDIT % ("acme", 'add_credits: [{id: credit-0, amount: "1.00"}]'),
     "t.yaml: $.timeline[5].edit_contract.add_credits[0].id: grant id 'credit-0' is also the id of "
     "$.timeline[4].create_customer.contract.credits[0] of customer 'acme'"),
    ("purchase named as an added grant", WITH_PARTS + EDIT % ("acme", 'add_credits: [{amount: "1.00"}]')
     + '  - {at: 2026-01-11, buy_credits: {customer: acme, id: timeline-5-credit-0, amount: "1.00", price: "0"}}\n',
     "t.yaml: $.timeline[6].buy_credits.id: grant id 'timeline-5-credit-0' is also the id of "
     "$.timeline[5].edit_contract.add_credits[0] of customer 'acme'"),
    ("unknown credit type", WITH_PARTS + EDIT % ("acme", 'add_commits: [{type: prepaid, amount: "1", credit_type: gold}]'),
     "t.yaml: $.timeline[5].edit_contract.add_commits[0].credit_type: unknown credit type 'gold'"),
    ("product created later", WITH_PARTS + EDIT % ("acme", "add_subscriptions: [{id: q, product: later}]")
     + "  - {at: 2026-01-20, create_product: {id: later, type: subscription}}\n",
     "t.yaml: $.timeline[5].edit_contract.add_subscriptions[0].product: product 'later' is created later, "
     "at 2026-01-20T00:00:00Z"),
    ("override before at", WITH_PARTS + EDIT % ("acme", 'add_overrides: [{product: api, price: "1", '
                                                        "starting_at: 2026-01-02}]"),
     "t.yaml: $.timeline[5].edit_contract.add_overrides[0].starting_at: 2026-01-02T00:00:00Z is before the "
     "entry's at (2026-01-10T00:00:00Z)"),
    ("invoice item before at", WITH_PARTS + EDIT % ("acme", 'add_commits: [{type: prepaid, amount: "1.00", '
                                                            'invoice: [{at: 2026-01-05, amount: "1.00"}]}]'),
     "t.yaml: $.timeline[5].edit_contract.add_commits[0].invoice[0].at: 2026-01-05T00:00:00Z is before the "
     "entry's at (2026-01-10T00:00:00Z)"),
    ("end at the default start", WITH_PARTS + EDIT % ("acme", 'add_credits: [{amount: "1.00", end: 2026-01-10}]'),
     "t.yaml: $.timeline[5].edit_contract.add_credits[0].end: 2026-01-10T00:00:00Z is not after the grant "
     "starts, at the entry's at (2026-01-10T00:00:00Z)"),
    ("per seat of a quantity subscription", WITH_PARTS + EDIT % ("acme", 'add_recurring_credits: [{amount: "1.00", '
                                                                         "per_seat_of: p}]"),
     "t.yaml: $.timeline[5].edit_contract.add_recurring_credits[0].per_seat_of: subscription 'p' is not "
     "seat-based (seat_based: true)"),
    ("recurring id given twice", WITH_PARTS + EDIT % ("acme", 'add_recurring_credits: [{id: m, amount: "1.00"}]')
     + EDIT.replace("01-10", "01-12") % ("acme", 'add_recurring_credits: [{id: m, amount: "2.00"}]'),
     "t.yaml: $.timeline[6].edit_contract.add_recurring_credits[0].id: customer 'acme' already has a recurring "
     "credit 'm'"),
    ("a contract's own rule", WITH_PARTS + EDIT % ("acme", 'add_credits: [{amount: "1.001"}]'),
     "t.yaml: $.timeline[5].edit_contract.add_credits[0].amount: 1.001 is finer than USD's 2 decimals"),
    ("no price for an added subscription (found by the run)",
     WITH_PARTS + "  - {at: 2026-01-01, create_product: {id: bare, type: subscription}}\n"
     + EDIT % ("acme", "add_subscriptions: [{id: b, product: bare}]"),
     "t.yaml: $.timeline[6].edit_contract.add_subscriptions[0].product: edit_contract at 2026-01-10T00:00:00Z: "
     "no flat price in USD for subscription product 'bare'"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in FILE_REFUSALS],
                         ids=[n for n, _, _ in FILE_REFUSALS])
def test_edit_contract_refusals_in_files(text: str, message: str, run_text: Any) -> None:
    with pytest.raises(ScenarioError) as info:
        run_text(text, "t.yaml")
    assert str(info.value) == message


# -- refusals live -----------------------------------------------------------------------------

LIVE = """meterbook: 1
start: 2026-01-01
end: 2026-03-01
products:
  - {id: seat, type: subscription}
  - {id: fee, type: subscription}
  - {id: bare, type: subscription}
  - {id: api, type: usage, metric: {event_type: call, property: n}}
rate_cards: [{id: std, rates: [{product: seat, price: "10.00"}, {product: fee, price: "31.00"},
                               {product: api, price: "0.10"}]}]
customers:
  - {id: acme, seats: [alice], contract: {rate_card: std, credits: [{amount: "1.00"}],
                                          subscriptions: [{id: seats, product: seat, seat_based: true},
                                                          {id: plat, product: fee}]}}
"""
JAN_11 = parse_at("2026-01-11")


def grant(gid: str, *, kind: str = "credit", unit: str = "USD", start: int | None = None) -> GrantTemplate:
    return GrantTemplate(id=gid, kind=kind, commit_type="prepaid" if kind == "commit" else None,  # type: ignore[arg-type]
                         unit=unit, amount=Decimal("5.00"), priority=1, start=start, end=None, months=None,
                         products=None, child_access="none")


def sub(sid: str, product: str, *, seat_based: bool = False) -> SubscriptionSpec:
    return SubscriptionSpec(id=sid, product=product, quantity=0 if seat_based else 1, seat_based=seat_based,
                            proration=True)


def monthly(rid: str, per_seat_of: str | None = None) -> RecurringSpec:
    return RecurringSpec(id=rid, unit="USD", amount=Decimal("31.00"), per_seat_of=per_seat_of, allocation="pooled",
                         seat_key="user", priority=1, rollover=None, products=None)


def edit(**parts: Any) -> ins.EditContract:
    return ins.EditContract(id="e1", at_us=JAN_11, customer=parts.pop("customer", "acme"), **parts)


LIVE_REFUSALS = [
    (edit(customer="nobody"), "$.customer", "unknown customer 'nobody'"),
    (edit(grants=(grant("x", start=parse_at("2026-01-10")),)), "$.add_credits[0].start",
     "2026-01-10T00:00:00Z is before the edit's at (2026-01-11T00:00:00Z)"),
    (edit(grants=(grant("x"), grant("y", kind="commit", unit="gold"))), "$.add_commits[0].credit_type",
     "unknown credit type 'gold'"),
    (edit(grants=(grant("x"), grant("credit-0"))), "$.add_credits[1].id", "customer acme already has a grant 'credit-0'"),
    (edit(subscriptions=(sub("seats", "seat", seat_based=True),)), "$.add_subscriptions[0].id",
     "customer acme already has a subscription 'seats'"),
    (edit(subscriptions=(sub("x", "api"),)), "$.add_subscriptions[0].product", "'api' is not a subscription product"),
    (edit(subscriptions=(sub("x", "bare"),)), "$.add_subscriptions[0].product",
     "no flat price in USD for subscription product 'bare'"),
    (edit(recurring=(monthly("m", per_seat_of="plat"),)), "$.add_recurring_credits[0].per_seat_of",
     "customer acme has no seat-based subscription 'plat'"),
    (edit(recurring=(monthly("m"), monthly("m"))), "$.add_recurring_credits[1].id",
     "customer acme already has a recurring credit 'm'"),
]


@pytest.fixture
def live(tmp_path: Path) -> Any:
    """A runtime with LIVE's customer, at the start of January."""
    s = load_text(LIVE, "t.yaml")
    book = Book(tmp_path / "l.sqlite")
    rt = runtime_for(s, book)
    for item in declared_inputs(s):
        assert rt.apply(item).status == "accepted"
    yield rt
    book.close()


@pytest.mark.parametrize(("item", "field", "reason"), LIVE_REFUSALS, ids=[f for _, f, _ in LIVE_REFUSALS])
def test_the_runtime_refuses_an_edit_naming_the_field(live: Any, item: ins.EditContract, field: str,
                                                      reason: str) -> None:
    answer = live.apply(item)
    assert (answer.status, answer.field, answer.reason) == ("refused", field, reason)


def test_an_override_before_at_is_refused_live(live: Any) -> None:
    price = make_price(live.catalog.units["USD"], Decimal("0.05"), None)
    answer = live.apply(edit(overrides=(("api", parse_at("2026-01-05"), price),)))
    assert (answer.status, answer.field) == ("refused", "$.add_overrides[0].starting_at")


def test_a_refused_edit_changes_nothing_and_its_id_may_come_again(live: Any) -> None:
    """The last part is refused by the customer, after the runtime's checks passed: the credit
    and the subscription before it are not added, nothing is booked or scheduled."""
    acme = live.customer("acme")
    live.advance_to(JAN_11)
    contract, specs, lines_before = acme.contract, dict(acme.specs), list(acme.invoice.lines)
    posted, timers = live.book.last_posted, len(live.router.timeline)
    parts: dict[str, Any] = {"grants": (grant("bonus"),), "subscriptions": (sub("extra", "fee"),)}
    refused = live.apply(edit(**parts, recurring=(monthly("m", per_seat_of="nope"),)))
    assert (refused.status, refused.field) == ("refused", "$.add_recurring_credits[0].per_seat_of")
    assert acme.contract == contract and acme.specs == specs and acme.invoice.lines == lines_before
    assert "extra" not in acme.paid_max and "extra" not in acme.quantity
    assert (live.book.last_posted, len(live.router.timeline)) == (posted, timers)
    # Corrected, the same id is accepted: 31.00 x 21/31 = 21.00 for the fee, the credit scheduled.
    assert live.apply(edit(**parts)).status == "accepted"
    assert [line.units for line in acme.invoice.lines[len(lines_before):]] == [21 * 10**8]
    assert "bonus" in acme.specs and [s.id for s in acme.contract.subscriptions] == ["seats", "plat", "extra"]


# -- the journal -------------------------------------------------------------------------------

def test_a_run_with_edits_replays_from_its_journal(tmp_path: Path) -> None:
    """Every edit is journaled as an EditContract body; decoded and applied to a fresh runtime,
    the journal books the same ledger byte for byte."""
    s = load(EXAMPLE)
    original = run_scenario(s, str(tmp_path / "a.sqlite"), EXAMPLE.name, EXAMPLE.parent)
    original.book.close()
    rows = journal(tmp_path / "a.sqlite")
    assert [r["input_id"] for r in rows if r["kind"] == "EditContract"] == ["command:grow", "command:ai", "command:pin"]
    from tests.live_support import simulate_journal

    replay = simulate_journal(tmp_path / "a.sqlite", tmp_path / "b.sqlite")
    conn = sqlite3.connect(tmp_path / "a.sqlite")
    assert replay == export_lines(conn)
    conn.close()
    assert b"grant:acme:pre" in replay and b"ai_pool/2026-01-16" in replay


async def test_edits_fed_live_write_the_same_ledger_as_the_simulation(tmp_path: Path) -> None:
    """A live ledger fed the example's inputs (its catalog and customers as create commands)
    writes the ledger its simulation (to the live file's horizon) writes."""
    import sqlite3

    from tests.live_support import live_inputs, run_live, simulate_journal

    scenario = load(EXAMPLE)
    acks = await run_live(tmp_path / "live.sqlite", live_inputs(scenario, EXAMPLE.parent), scenario.start,
                          scenario.end)
    assert [a.error for a in acks if a.error] == []
    live = export_lines(sqlite3.connect(tmp_path / "live.sqlite"))
    assert live == simulate_journal(tmp_path / "live.sqlite", tmp_path / "sim.sqlite")
    assert b'"kind":"subscription"' in live and b"edit" in live
