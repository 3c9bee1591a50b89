"""Live time: usage `timestamp` and `grace_seconds` (SCENARIOS.md "Live time").

Amounts are worked out by hand in each test's docstring; every test would fail if the late
event were billed at its arrival, if settling did not wait for the grace, or if a refusal
were missed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest
import trio

from meterbook.actors.pool import CreditPool
from meterbook.engine import inputs as ins
from meterbook.engine.clock import ManualClock
from meterbook.engine.from_scenario import scenario_inputs
from meterbook.engine.live import LIVE_GRACE_SECONDS, LiveRunner
from meterbook.engine.runtime import Runtime
from meterbook.engine.simulate import run_scenario, runtime_for
from meterbook.ledger import Book, export_lines
from meterbook.scenarios import ScenarioError, load_text, parse_at

HOUR = 3_600_000_000
FEB1 = parse_at("2026-02-01")

# Tiers: 0.10 up to 100, then 0.05. A 10.00 credit for January only; 20.00 a month platform.
LATE = """
meterbook: 1
name: Live time
start: 2026-01-01
end: 2026-03-01
grace_seconds: 3600
products:
  - {id: platform, type: subscription}
  - {id: api, type: usage, metric: {event_type: call, aggregation: sum, property: n}}
rate_cards:
  - id: r
    rates:
      - {product: platform, price: "20.00"}
      - {product: api, tiers: [{up_to: "100", price: "0.10"}, {price: "0.05"}]}
customers:
  - id: acme
    contract:
      rate_card: r
      subscriptions: [{id: platform, product: platform}]
      credits: [{id: jan, amount: "10.00", start: 2026-01-01, end: 2026-02-01}]
timeline:
  - {at: 2026-01-20T00:00:00Z, usage: {id: e1, customer: acme, event_type: call, properties: {n: 80}}}
  - {at: 2026-02-01T00:10:00Z, usage: {id: e2, customer: acme, event_type: call, properties: {n: 10}}}
  - {at: 2026-02-01T00:30:00Z, usage: {id: e3, customer: acme, event_type: call, properties: {n: 30},
                                       timestamp: 2026-01-31T23:50:00Z}}
"""


def totals(results: object) -> dict[str, tuple[str, str]]:
    """period -> (status, total) of acme's invoices."""
    return {inv.period: (inv.status, inv.total) for inv in results.invoices()  # type: ignore[attr-defined]
            if inv.customer == "acme"}


def refusal(text: str) -> str:
    with pytest.raises(ScenarioError) as err:
        load_text(text, "t.yaml")
    return str(err.value)


def stepped(tmp_path: Path, text: str = LATE) -> tuple[Runtime, Book]:
    """A runtime that has applied every input of the scenario (and nothing past the last)."""
    scenario = load_text(text, "t.yaml")
    book = Book(tmp_path / "l.sqlite")
    rt = runtime_for(scenario, book)
    for item in scenario_inputs(scenario, "t.yaml", tmp_path):
        rt.advance_to(item.at_us, item.phase)
        assert rt.apply(item).status == "accepted", item.id
    return rt, book


def transactions(book: Book, kind: str) -> list[tuple[str, int]]:
    book.flush()
    return [(r[0], r[1]) for r in book.conn.execute(
        "SELECT idempotency_key, at_us FROM transactions WHERE kind = ? ORDER BY id", (kind,))]


def test_late_event_lands_on_the_previous_invoice_at_its_tier_position(run_text) -> None:
    """January: e1 80 calls = 8.00, all paid by the January credit (2.00 left). e2 (February,
    no timestamp) 10 calls = 1.00 on February. e3 arrives in February's first hour stamped
    January 31st: January's aggregate goes 80 -> 110, so 20 x 0.10 + 10 x 0.05 = 2.50, of which
    the credit (ended at February 1st, not yet expired) pays 2.00: 0.50 on January's invoice.
    Billed at its arrival it would have been 30 x 0.10 = 3.00 on February's."""
    r = run_text(LATE)
    # February ended with the run, inside its grace: a draft (as a live ledger would hold it).
    assert totals(r) == {"2026-01-01T00:00:00Z": ("final", "20.50"), "2026-02-01T00:00:00Z": ("draft", "21.00")}
    jan = next(inv for inv in r.invoices() if inv.period == "2026-01-01T00:00:00Z")
    usage = next(line for line in jan.lines if line.kind == "usage")
    assert (usage.amount, usage.consumption.gross, usage.consumption.credits_applied) == ("0.50", "10.50", "10.00")
    assert r.grant("acme", "jan").remaining == 0
    assert r.breakage("acme", "USD", parse_at("2026-01-01")) == 0


def test_the_previous_invoice_is_a_draft_until_end_plus_grace(tmp_path: Path) -> None:
    """February opens at its start (its advance charge booked then), while January's invoice
    and the credit's expiry wait for 01:00, the end of the grace."""
    rt, book = stepped(tmp_path)
    acme = rt.customer("acme")
    jan = acme.invoices[0]
    pool = rt.actor(acme.holders["jan"])
    assert isinstance(pool, CreditPool)
    rt.advance_to(FEB1 + HOUR - 1)
    assert jan.status == "draft"
    assert transactions(book, "invoice_finalized") == []
    assert [g.id for g in pool.holdings.active] == ["jan"]  # not expired yet
    assert [at for _, at in transactions(book, "subscription")] == [parse_at("2026-01-01"), FEB1]
    assert rt.customer("acme").invoices[1].status == "open"
    rt.advance_to(FEB1 + HOUR)
    assert jan.status == "final"
    assert transactions(book, "invoice_finalized") == [("invoice:acme:2026-01-01T00:00:00Z", FEB1 + HOUR)]
    assert pool.holdings.active == []  # expired now (used up: no breakage to book)
    book.close()


def test_late_usage_is_booked_at_its_arrival(tmp_path: Path) -> None:
    """The ledger's time of a posting is when it was booked (the arrival), not the timestamp."""
    _, book = stepped(tmp_path)
    assert transactions(book, "usage")[-1] == ("usage:e3:api", FEB1 + HOUR // 2)
    book.close()


def test_usage_older_than_the_grace_is_refused_in_a_file() -> None:
    at_limit = LATE.replace("at: 2026-02-01T00:30:00Z", "at: 2026-02-01T00:50:00Z")
    load_text(at_limit, "t.yaml")  # exactly grace_seconds late: accepted
    late = LATE.replace("at: 2026-02-01T00:30:00Z", "at: 2026-02-01T00:50:01Z")
    assert refusal(late) == (
        "t.yaml: $.timeline[2].usage.timestamp: 2026-01-31T23:50:00Z is older than the grace allows: usage may "
        "arrive at most grace_seconds (3600) after its timestamp, and this one arrives at 2026-02-01T00:50:01Z")
    no_grace = LATE.replace("grace_seconds: 3600\n", "")
    assert "older than the grace allows" in refusal(no_grace)


def test_usage_older_than_the_grace_is_refused_at_run_time(tmp_path: Path) -> None:
    rt, book = stepped(tmp_path)
    at = FEB1 + HOUR // 2
    late = ins.RecordUsage(id="e4", at_us=at, customer="acme", event_type="call", properties={"n": 5},
                           timestamp_us=at - HOUR - 1)
    before = (rt.accepted, rt.customer("acme").aggs["api"].value)
    answer = rt.apply(late)
    assert (answer.status, answer.field) == ("refused", "$.timestamp")
    assert answer.reason is not None and "older than the grace allows" in answer.reason
    assert (rt.accepted, rt.customer("acme").aggs["api"].value) == before  # nothing changed
    ok = msgspec.structs.replace(late, timestamp_us=at - HOUR)  # the same id, corrected
    assert rt.apply(ok).status == "accepted"
    book.close()


def test_a_timestamp_more_than_5_minutes_after_at_is_refused() -> None:
    ahead = LATE.replace("at: 2026-01-20T00:00:00Z, usage: {id: e1, customer: acme, event_type: call, "
                         "properties: {n: 80}}",
                         "at: 2026-01-20T00:00:00Z, usage: {id: e1, customer: acme, event_type: call, "
                         "properties: {n: 80}, timestamp: 2026-01-20T00:05:01Z}")
    assert refusal(ahead) == ("t.yaml: $.timeline[0].usage.timestamp: 2026-01-20T00:05:01Z is more than 5 "
                              "minutes after at (2026-01-20T00:00:00Z)")


def test_a_timestamp_ahead_at_run_time_is_refused(tmp_path: Path) -> None:
    rt, book = stepped(tmp_path)
    at = FEB1 + HOUR // 2
    answer = rt.apply(ins.RecordUsage(id="e5", at_us=at, customer="acme", event_type="call", properties={"n": 1},
                                      timestamp_us=at + 300_000_001))
    assert (answer.status, answer.field) == ("refused", "$.timestamp")
    assert answer.reason == "2026-02-01T00:35:00.000001Z is more than 5 minutes after at (2026-02-01T00:30:00Z)"
    book.close()


def test_a_timestamp_a_little_ahead_is_billed_at_its_arrival(run_text) -> None:
    """Clock skew: e1 arrives 23:58 on January 31st stamped 00:03 on February 1st (5 minutes
    ahead at most): it is billed at its arrival, in January, drawing the January credit:
    80 calls = 8.00, all paid, so January is the platform's 20.00 alone."""
    text = LATE.replace("at: 2026-01-20T00:00:00Z, usage: {id: e1, customer: acme, event_type: call, "
                        "properties: {n: 80}}",
                        "at: 2026-01-31T23:58:00Z, usage: {id: e1, customer: acme, event_type: call, "
                        "properties: {n: 80}, timestamp: 2026-02-01T00:03:00Z}")
    r = run_text(text)
    assert totals(r)["2026-01-01T00:00:00Z"] == ("final", "20.50")
    assert r.grant("acme", "jan").remaining == 0


def test_a_timestamp_before_the_customer_starts_is_refused() -> None:
    text = LATE.replace("  - id: acme\n", "  - id: acme\n    start: 2026-01-10\n").replace(
        "at: 2026-01-20T00:00:00Z, usage: {id: e1, customer: acme, event_type: call, properties: {n: 80}}",
        "at: 2026-01-10T00:30:00Z, usage: {id: e1, customer: acme, event_type: call, properties: {n: 80}, "
        "timestamp: 2026-01-09T23:45:00Z}")
    assert refusal(text) == ("t.yaml: $.timeline[0].usage.timestamp: 2026-01-09T23:45:00Z is before customer "
                             "'acme' starts (2026-01-10T00:00:00Z)")


def test_grace_seconds_is_bounded() -> None:
    assert refusal(LATE.replace("grace_seconds: 3600", "grace_seconds: -1")) == (
        "t.yaml: $.grace_seconds: expected an integer from 0 to 604800, got -1")
    assert "$.grace_seconds: expected an integer from 0 to 604800" in refusal(
        LATE.replace("grace_seconds: 3600", "grace_seconds: 604801"))


def test_a_scenario_with_grace_and_timestamps_replays_from_its_journal(tmp_path: Path) -> None:
    scenario = load_text(LATE, "t.yaml")
    original = run_scenario(scenario, str(tmp_path / "a.sqlite"), "t.yaml", tmp_path)
    original.book.close()
    conn = sqlite3.connect(tmp_path / "a.sqlite")
    bodies = {row[0]: row[1] for row in conn.execute("SELECT input_id, body FROM inputs ORDER BY seq")}
    conn.close()
    assert '"timestamp_us"' in bodies["usage:e3"] and '"timestamp_us"' not in bodies["usage:e1"]
    from tests.live_support import simulate_journal

    replayed = simulate_journal(tmp_path / "a.sqlite", tmp_path / "b.sqlite")
    conn = sqlite3.connect(tmp_path / "a.sqlite")
    assert replayed == export_lines(conn)
    conn.close()


def test_without_grace_a_timestamp_equal_to_at_changes_nothing(run_text) -> None:
    plain = LATE.replace("grace_seconds: 3600\n", "").replace(
        ",\n                                       timestamp: 2026-01-31T23:50:00Z}", "}")
    stamped = plain.replace("properties: {n: 10}}", "properties: {n: 10}, timestamp: 2026-02-01T00:10:00Z}")
    a, b = run_text(plain), run_text(stamped)
    assert export_lines(a.book.conn) == export_lines(b.book.conn)
    assert totals(a) == {"2026-01-01T00:00:00Z": ("final", "20.00"), "2026-02-01T00:00:00Z": ("final", "24.00")}


ROLLOVER = """
meterbook: 1
start: 2026-01-01
end: 2026-03-01
grace_seconds: 3600
credit_types: [{id: cr, decimals: 0}]
products: [{id: ai, type: usage, metric: {event_type: ask, aggregation: sum, property: n}}]
rate_cards: [{id: r, rates: [{product: ai, price: "1", credit_type: cr}]}]
customers:
  - id: acme
    contract:
      rate_card: r
      on_exhausted: block
      recurring_credits: [{id: monthly, credit_type: cr, amount: "100", rollover: "0.5"}]
timeline:
  - {at: 2026-01-10, usage: {id: a1, customer: acme, event_type: ask, properties: {n: 30}}}
  - {at: 2026-02-01T00:20:00Z, usage: {id: a2, customer: acme, event_type: ask, properties: {n: 10},
                                       timestamp: 2026-01-31T23:30:00Z}}
  - {at: 2026-02-01T00:30:00Z, usage: {id: a3, customer: acme, event_type: ask, properties: {n: 5}}}
  - {at: 2026-02-01T02:00:00Z, usage: {id: a4, customer: acme, event_type: ask, properties: {n: 60}}}
"""


def test_rollover_and_breakage_are_settled_at_end_plus_grace(run_text) -> None:
    """January's 100 credits: 30 (a1) + 10 (a2, late, stamped January) used, 60 left when the
    grace ends at 01:00: 50 (0.5 x 100) roll over, 10 expire as January's breakage. a3 at
    00:30 is February's and finds no rollover yet: it draws February's fresh 100 (95 left).
    a4 at 02:00 draws the rolled-over 50 first, then 10 of February's (85 left)."""
    r = run_text(ROLLOVER)
    assert r.denied("acme") == 0
    assert r.amount("cr", r.breakage("acme", "cr", parse_at("2026-01-01"))) == "10"
    rolled = r.grant("acme", "monthly/2026-01-01/rollover")
    assert (rolled.terms.start, rolled.terms.end, rolled.terms.units) == (FEB1, parse_at("2026-03-01"), 50_000_000)
    mid_feb = parse_at("2026-02-15")
    assert r.balance("acme", "cr", mid_feb, grant="monthly/2026-01-01/rollover") == 0
    assert r.amount("cr", r.balance("acme", "cr", mid_feb, grant="monthly/2026-02-01")) == "85"
    rows = transactions(r.book, "rollover")
    assert rows == [("rollover:acme:monthly/2026-01-01", FEB1 + HOUR)]


def test_a_package_change_in_the_grace_leaves_the_ended_period_s_credits_to_expire(run_text) -> None:
    """Moving to `big` at 00:10 forfeits what is running (February's fresh 100, unused), but
    January's grant, ended and waiting out its grace, still pays a2 (stamped January, arriving
    00:20) and expires at 01:00 with no rollover: 100 - 30 - 10 = 60 breakage in January."""
    text = ROLLOVER.replace("""customers:
  - id: acme
    contract:
      rate_card: r
      on_exhausted: block
      recurring_credits: [{id: monthly, credit_type: cr, amount: "100", rollover: "0.5"}]
""", """packages:
  - {id: small, rate_card: r, on_exhausted: block,
     recurring_credits: [{id: monthly, credit_type: cr, amount: "100", rollover: "0.5"}]}
  - {id: big, rate_card: r, on_exhausted: block,
     recurring_credits: [{id: monthly, credit_type: cr, amount: "200", rollover: "0.5"}]}
customers:
  - {id: acme, package: small}
""").replace("timeline:\n", "timeline:\n  - {at: 2026-02-01T00:10:00Z, change_package: {customer: acme, to: big}}\n")
    r = run_text(text)
    assert r.denied("acme") == 0
    assert r.grant("acme", "monthly/2026-01-01").remaining == 0
    assert r.amount("cr", r.breakage("acme", "cr", parse_at("2026-01-01"))) == "60"
    with pytest.raises(KeyError):
        r.grant("acme", "monthly/2026-01-01/rollover")


PAYER = """
meterbook: 1
start: 2026-01-01
end: 2026-03-01
grace_seconds: 3600
products: [{id: api, type: usage, metric: {event_type: call, aggregation: sum, property: n}}]
rate_cards: [{id: r, rates: [{product: api, price: "0.10"}]}]
customers:
  - {id: org, contract: {rate_card: r}}
  - {id: kid, parent: org, payer: parent, contract: {rate_card: r}}
timeline:
  - {at: 2026-02-01T00:30:00Z, usage: {id: k1, customer: kid, event_type: call, properties: {n: 30},
                                       timestamp: 2026-01-31T23:50:00Z}}
"""


def test_a_late_child_event_lands_on_the_payer_s_previous_invoice(run_text) -> None:
    """30 calls x 0.10 = 3.00, stamped January: on org's January invoice, rolled up in January."""
    r = run_text(PAYER)
    got = {(inv.customer, inv.period): inv.total for inv in r.invoices()}
    assert got[("org", "2026-01-01T00:00:00Z")] == "3.00"
    assert got[("org", "2026-02-01T00:00:00Z")] == "0.00"
    assert r.money(r.rollup_usage("org", parse_at("2026-01-01"))) == "3.00"


async def test_the_live_runner_takes_late_usage_within_its_grace(tmp_path: Path) -> None:
    """Live, with the server's grace (3600 s, as the file says): e3 is taken as in simulation
    (the two ledgers are byte-identical) and an event an hour and a microsecond late is refused."""
    import sqlite3

    import msgspec

    from tests.live_support import feed, live_inputs, simulate_journal

    scenario = load_text(LATE, "t.yaml")
    book = Book(tmp_path / "live.sqlite", durable=True)
    clock = ManualClock(scenario.start)
    runner = LiveRunner(book, clock, tick_s=0.01, grace_seconds=LIVE_GRACE_SECONDS)
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        acks = await feed(runner, clock, live_inputs(scenario, tmp_path))
        too_late = ins.RecordUsage(id="e4", at_us=FEB1 + HOUR // 2, customer="acme", event_type="call",
                                   properties={"n": 1}, timestamp_us=FEB1 - HOUR // 2 - 1)
        acks += await feed(runner, clock, [too_late])
        clock.set(scenario.end + 1)
        await runner.close()
    book.close()
    assert [a.accepted for a in acks[-4:]] == [True, True, True, False]
    assert acks[-1].error == (
        "input e4: $.timestamp: 2026-01-31T23:29:59.999999Z is older than the grace allows: usage may arrive at "
        "most grace_seconds (3600) after its timestamp, and this one arrives at 2026-02-01T00:30:00Z")
    live = export_lines(sqlite3.connect(tmp_path / "live.sqlite"))
    assert live == simulate_journal(tmp_path / "live.sqlite", tmp_path / "journal.sqlite")
    horizon = int(sqlite3.connect(tmp_path / "live.sqlite").execute(
        "SELECT value FROM meta WHERE key = 'end_us'").fetchone()[0])
    sim = run_scenario(msgspec.structs.replace(scenario, end=horizon), str(tmp_path / "sim.sqlite"), "t.yaml",
                       tmp_path)
    assert live == export_lines(sim.book.conn)
    sim.book.close()


# A customer created half an hour after the start it gives (within the grace): January has 31
# days, so its platform fee from January 10th is 20.00 x 22/31 = 14.19 (14.1935...), where
# from its arrival at 00:30 it would be 20.00 x (22 days - 30 min)/31 days = 14.17.
BACKDATED = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
grace_seconds: 3600
products:
  - {id: platform, type: subscription}
  - {id: api, type: usage, metric: {event_type: call, aggregation: sum, property: n}}
rate_cards: [{id: r, rates: [{product: platform, price: "20.00"}, {product: api, price: "0.10"}]}]
timeline:
  - {at: "2026-01-10T00:30:00Z", create_customer: {id: late, start: "{start}", contract: {rate_card: r,
       subscriptions: [{id: platform, product: platform}]}}}
  - {at: "2026-01-10T00:40:00Z", usage: {id: u1, customer: late, event_type: call, properties: {n: 10},
                                         timestamp: "2026-01-10T00:10:00Z"}}
  - {at: "2026-01-10T01:00:00Z", edit_contract: {customer: late, add_credits: [{id: back, amount: "0.50",
                                                                               start: "2026-01-10T00:20:00Z"}]}}
"""


def test_a_created_customer_may_start_up_to_the_grace_before_it_is_created(run_text) -> None:
    r = run_text(BACKDATED.replace("{start}", "2026-01-10T00:00:00Z"))
    inv = next(inv for inv in r.invoices() if inv.customer == "late")
    assert inv.period == "2026-01-10T00:00:00Z"
    lines = {line.kind: line.amount for line in inv.lines}
    # 14.19 platform; u1 (stamped 00:10, before the edit) 10 x 0.10 = 1.00, not drawn from the
    # credit added later, though the credit is back-dated to 00:20 (u1's timestamp is earlier).
    assert lines == {"subscription": "14.19", "usage": "1.00"}
    assert r.grant("late", "back").terms.start == parse_at("2026-01-10T00:20:00Z")
    assert r.grant("late", "back").remaining == 50_000000  # 0.50 at USD's ledger scale (8)


def test_a_start_more_than_the_grace_before_its_creation_is_refused() -> None:
    assert refusal(BACKDATED.replace("{start}", "2026-01-09T23:29:59Z")) == (
        "t.yaml: $.timeline[0].create_customer.start: 2026-01-09T23:29:59Z is before the customer is created, "
        "at 2026-01-10T00:30:00Z by more than grace_seconds (3600)")
    early_credit = BACKDATED.replace("{start}", "2026-01-10T00:00:00Z").replace(
        'start: "2026-01-10T00:20:00Z"', 'start: "2026-01-09T23:59:59Z"')
    assert refusal(early_credit) == (
        "t.yaml: $.timeline[2].edit_contract.add_credits[0].start: 2026-01-09T23:59:59Z is before the entry's at "
        "(2026-01-10T01:00:00Z) by more than grace_seconds (3600)")


def test_a_start_back_dated_into_an_ended_month_is_refused_live(tmp_path: Path) -> None:
    """Live, the same rule: within the grace, but January has ended, so its period could take
    no usage: refused, and so is a start an hour and a second early."""
    from meterbook.actors.catalog import ContractTerms
    from meterbook.engine.from_scenario import declared_inputs

    book = Book(tmp_path / "l.sqlite")
    scenario = load_text(BACKDATED.replace("{start}", "2026-01-10T00:00:00Z"), "t.yaml")
    rt = runtime_for(msgspec.structs.replace(scenario, end=parse_at("2026-03-01")), book)
    for item in declared_inputs(scenario):
        assert rt.apply(item).status == "accepted"
    terms = ContractTerms(rate_card="r", overrides=(), subscriptions=(), grants=(), recurring=(), on_exhausted="bill")
    at = FEB1 + HOUR // 2

    def create(cid: str, start: int) -> ins.Answer:
        return rt.apply(ins.CreateCustomer(id=cid, at_us=at, customer=cid, name=cid, start_us=start, terms=terms))

    crossed = create("a", FEB1 - HOUR // 6)
    assert (crossed.status, crossed.field, crossed.reason) == (
        "refused", "$.start", "2026-01-31T23:50:00Z is before the customer is created (2026-02-01T00:30:00Z) in a "
                              "month that has ended")
    early = create("b", at - HOUR - 1_000_000)
    assert early.reason == ("2026-01-31T23:29:59Z is before the customer is created (2026-02-01T00:30:00Z) by more "
                            "than grace_seconds (3600)")
    ok = create("c", FEB1 + HOUR // 6)
    assert ok.status == "accepted"
    rt.finish()
    assert rt.customer("c").invoices[0].start == FEB1 + HOUR // 6
    book.close()
