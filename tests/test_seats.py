"""Seat-based subscriptions and seat-linked credits: proration, re-adds, rollover, individual
allocations with pool fallback, block mode at the edge, and refused seat commands."""

from __future__ import annotations

import pytest

from meterbook.scenarios import ScenarioError

HEAD = """
meterbook: 1
start: 2026-01-01
end: 2026-03-01
credit_types: [{id: cr, decimals: 0, fiat_per_credit: "0.01"}]
products:
  - {id: seat, type: subscription}
  - {id: ai, type: usage, metric: {event_type: ask, aggregation: sum, property: credits}}
rate_cards: [{id: std, rates: [{product: seat, price: "10.00"}, {product: ai, price: "1", credit_type: cr}]}]
packages:
  - id: team
    rate_card: std
    on_exhausted: {mode}
    subscriptions: [{id: seats, product: seat, seat_based: true}]
    recurring_credits:
      - {credit_type: cr, amount: "100", per_seat_of: seats, allocation: {alloc}, priority: 1{extra}}
customers:
  - {id: org, package: team, seats: [a, b]}
timeline:
"""


def scenario(timeline: str, *, mode: str = "bill", alloc: str = "pooled", extra: str = "") -> str:
    return HEAD.replace("{mode}", mode).replace("{alloc}", alloc).replace("{extra}", extra) + timeline


def usage(i: int, at: str, credits: int, user: str | None = None) -> str:
    props = f"credits: {credits}" + (f", user: {user}" if user else "")
    return f"  - {{at: {at}, usage: {{id: e{i}, customer: org, event_type: ask, properties: {{{props}}}}}}}\n"


def total(results, period: str) -> str:
    from meterbook.scenarios import parse_at

    return results.money(results.invoice_total("org", parse_at(period)))


def bal(results, at: str, seat: str | None = None) -> str:
    from meterbook.scenarios import parse_at

    return results.amount("cr", results.balance("org", "cr", parse_at(at), seat=seat))


def test_seat_added_at_arbitrary_second_prorates_charge_and_credits(run_text) -> None:
    # 2026-01-16T12:34:56Z leaves 1,337,104 s of January's 2,678,400 s.
    r = run_text(scenario("  - {at: 2026-01-16T12:34:56Z, add_seats: {customer: org, subscription: seats, seats: [c]}}\n"))
    # 10.00 x 1337104/2678400 = 4.99217... -> 4.99; 100 x the same = 49.92 -> 50 credits.
    assert total(r, "2026-01-01") == "24.99"
    assert bal(r, "2026-01-16T12:34:56Z") == "250"
    assert total(r, "2026-02-01") == "30.00"
    assert bal(r, "2026-02-01") == "300"


def test_seat_removed_and_readded_in_same_period_is_free(run_text) -> None:
    r = run_text(scenario(
        "  - {at: 2026-01-10, remove_seats: {customer: org, subscription: seats, seats: [b]}}\n"
        "  - {at: 2026-01-20, add_seats: {customer: org, subscription: seats, seats: [b]}}\n"))
    assert total(r, "2026-01-01") == "20.00"
    assert bal(r, "2026-01-25") == "200"
    assert total(r, "2026-02-01") == "20.00"


def test_removal_takes_effect_next_period(run_text) -> None:
    r = run_text(scenario("  - {at: 2026-01-10, remove_seats: {customer: org, subscription: seats, seats: [b]}}\n"))
    assert total(r, "2026-01-01") == "20.00"
    assert bal(r, "2026-01-31T23:59:59Z") == "200"
    assert total(r, "2026-02-01") == "10.00"
    assert bal(r, "2026-02-01") == "100"


def test_increase_only_above_most_paid(run_text) -> None:
    r = run_text(scenario(
        "  - {at: 2026-01-10, remove_seats: {customer: org, subscription: seats, seats: [b]}}\n"
        "  - {at: 2026-01-16, add_seats: {customer: org, subscription: seats, seats: [c, d]}}\n"))
    # Paid for 2; now 3 assigned: one seat charged 10 x 16/31 = 5.16 and 52 pooled credits.
    assert total(r, "2026-01-01") == "25.16"
    assert bal(r, "2026-01-16") == "252"


def test_rollover_is_capped(run_text) -> None:
    r = run_text(scenario(usage(1, "2026-01-05", 20), extra=', rollover: "0.5"'))
    # 200 granted, 20 used: 180 unused, cap 0.5 x 200 = 100 carried, 80 breakage.
    assert bal(r, "2026-02-01") == "300"
    assert r.breakage("org", "cr", __import__("meterbook.scenarios").scenarios.parse_at("2026-01-01")) == 80_000_000
    rolled = r.grant("org", "recurring-0/2026-01-01/rollover")
    assert (rolled.terms.rollover, rolled.terms.units) == (True, 100_000_000)


def test_rollover_drawn_before_fresh_grant(run_text) -> None:
    r = run_text(scenario(usage(1, "2026-01-05", 150) + usage(2, "2026-02-05", 30), extra=', rollover: "1"'))
    assert r.grant("org", "recurring-0/2026-01-01/rollover").terms.units == 50_000_000
    # February's 30 come from the 50 rolled over first.
    assert -r.book.balance("grant/org/recurring-0/2026-01-01/rollover",
                           __import__("meterbook.scenarios").scenarios.parse_at("2026-02-05")) == 20_000_000
    assert -r.book.balance("grant/org/recurring-0/2026-02-01", __import__("meterbook.scenarios").scenarios.parse_at("2026-02-05")) == 200_000_000


def test_individual_allocation_falls_back_to_pool(run_text) -> None:
    r = run_text(scenario(
        "  - {at: 2026-01-02, buy_credits: {customer: org, credit_type: cr, amount: \"50\", price: \"5.00\", priority: 5}}\n"
        + usage(1, "2026-01-05", 130, "a") + usage(2, "2026-01-06", 10) + usage(3, "2026-01-07", 40, "a"),
        alloc="individual"))
    assert bal(r, "2026-01-07", seat="a") == "0"
    assert bal(r, "2026-01-07", seat="b") == "100"
    # Pack 50: 30 for a's excess, 10 for the seatless event, the last 10 for a; 30 overage.
    assert bal(r, "2026-01-07") == "0"
    assert total(r, "2026-01-01") == "25.30"


def test_event_without_seat_key_draws_pool_only(run_text) -> None:
    r = run_text(scenario(usage(1, "2026-01-05", 30), alloc="individual"))
    assert bal(r, "2026-01-05", seat="a") == "100"
    assert total(r, "2026-01-01") == "20.30"


@pytest.mark.parametrize(("credits", "denied", "left"), [(200, 0, "0"), (201, 1, "200")])
def test_block_mode_exactly_enough_and_one_short(run_text, credits: int, denied: int, left: str) -> None:
    r = run_text(scenario(usage(1, "2026-01-05", credits), mode="block"))
    assert r.denied("org") == denied
    assert bal(r, "2026-01-05") == left
    assert total(r, "2026-01-01") == "20.00"


def test_unlinked_recurring_credit_is_fixed(run_text) -> None:
    text = scenario("").replace("per_seat_of: seats, allocation: pooled, ", "")  # timeline follows
    r = run_text(text + "  - {at: 2026-01-16, add_seats: {customer: org, subscription: seats, seats: [c]}}\n")
    assert bal(r, "2026-01-20") == "100"


@pytest.mark.parametrize(("entry", "message"), [
    ("  - {at: 2026-01-16, add_seats: {customer: org, subscription: seats, seats: [a]}}\n",
     "t.yaml: $.timeline[0]: add_seats at 2026-01-16T00:00:00Z: seat 'a' is already assigned on 'seats'"),
    ("  - {at: 2026-01-16, remove_seats: {customer: org, subscription: seats, seats: [zed]}}\n",
     "t.yaml: $.timeline[0]: remove_seats at 2026-01-16T00:00:00Z: seat 'zed' is not assigned on 'seats'"),
])
def test_bad_seat_commands_name_command_and_time(run_text, entry: str, message: str, tmp_path) -> None:
    with pytest.raises(ScenarioError) as info:
        run_text(scenario(entry), "t.yaml")
    assert str(info.value) == message


def test_per_seat_of_non_seat_subscription_refused(run_text) -> None:
    text = scenario("  []\n").replace("timeline:\n", "timeline:").replace("seat_based: true", "quantity: 2").replace("customers:\n  - {id: org, package: team, seats: [a, b]}",
                                                                          "customers:\n  - {id: org, package: team}")
    with pytest.raises(ScenarioError) as info:
        run_text(text, "t.yaml")
    assert str(info.value) == ("t.yaml: $.packages[0].recurring_credits[0].per_seat_of: "
                               "subscription 'seats' is not seat-based (seat_based: true)")


def test_ledger_verifies_after_seat_scenario(run_text) -> None:
    from meterbook.ledger import violations

    r = run_text(scenario(usage(1, "2026-01-05", 500, "a")
                          + "  - {at: 2026-01-16, add_seats: {customer: org, subscription: seats, seats: [c]}}\n",
                          alloc="individual", extra=', rollover: "0.25"'))
    r.book.flush()
    assert violations(r.book.conn) == []


def test_pooled_seats_added_together_round_per_seat(run_text) -> None:
    r = run_text(scenario("  - {at: 2026-01-16, add_seats: {customer: org, subscription: seats, seats: [c, d]}}\n"))
    # One line for two seats: 2 x 10.00 x 16/31 = 10.32; credits 2 x round(100 x 16/31) = 104.
    assert total(r, "2026-01-01") == "30.32"
    assert bal(r, "2026-01-16") == "304"


def test_departed_seat_does_not_roll_over(run_text) -> None:
    r = run_text(scenario("  - {at: 2026-01-10, remove_seats: {customer: org, subscription: seats, seats: [b]}}\n",
                          alloc="individual", extra=', rollover: "1"'))
    grants = {g.terms.id for g in r.grants("org")}
    assert "recurring-0/a/2026-01-01/rollover" in grants
    assert "recurring-0/b/2026-01-01/rollover" not in grants
    assert r.breakage("org", "cr", __import__("meterbook.scenarios").scenarios.parse_at("2026-01-01")) == 100_000_000


def test_overage_without_fiat_rate_is_refused_clearly(run_text) -> None:
    text = scenario(usage(1, "2026-01-05", 250)).replace(', fiat_per_credit: "0.01"', "")
    with pytest.raises(ScenarioError) as info:
        run_text(text, "t.yaml")
    # Refused at load, where the missing field is, rather than on the first event that overflows.
    assert str(info.value) == ("t.yaml: $.credit_types[0].fiat_per_credit: needed: product 'ai' is priced in 'cr' "
                               "on $.packages[0], which has on_exhausted: bill, so overage in 'cr' is billed in USD "
                               "at this rate (or set on_exhausted: block there)")


def test_subscription_priced_in_credits_is_refused(run_text) -> None:
    text = scenario("  []\n").replace("timeline:\n", "timeline:").replace(
        '{product: seat, price: "10.00"}', '{product: seat, price: "10", credit_type: cr}')
    with pytest.raises(ScenarioError) as info:
        run_text(text, "t.yaml")
    assert str(info.value) == "t.yaml: $.rate_cards[0].rates[0].credit_type: a subscription is priced in the currency (USD)"


def test_refusal_inside_a_timer_names_the_customer(run_text) -> None:
    text = scenario("  []\n").replace("timeline:\n", "timeline:").replace(
        '{product: seat, price: "10.00"}', '{product: seat, price: "10.00", starting_at: 2026-02-01}')
    with pytest.raises(ScenarioError) as info:
        run_text(text, "t.yaml")
    assert str(info.value) == ("t.yaml: $.customers[0]: start at 2026-01-01T00:00:00Z: "
                               "no flat price in USD for subscription product 'seat'")
