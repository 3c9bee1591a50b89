"""Property tests: random grants, usage, expiries and period closes never break balance per
unit, never draw a grant below zero, and always draw in rule 4's order."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from meterbook.engine.from_scenario import declared_inputs, entry_input
from meterbook.engine.results import Results
from meterbook.engine.simulate import runtime_for
from meterbook.ledger import Book, violations
from meterbook.scenarios import format as fmt
from meterbook.scenarios.types import Amount, parse_at

HOUR = 3_600_000_000
PRODUCTS = ("api", "compute")


def scenario(block: bool) -> fmt.Scenario:
    return fmt.Scenario(
        meterbook=1, start=parse_at("2026-01-01"), end=parse_at("2026-06-01"),
        products=[fmt.Product(id=p, type="usage", metric=fmt.Metric(event_type=p, aggregation="sum", property="n"))
                  for p in PRODUCTS],
        rate_cards=[fmt.RateCard(id="std", rates=[fmt.Rate(product="api", price=Amount("0.01")),
                                                  fmt.Rate(product="compute", price=Amount("0.10"))])],
        customers=[fmt.Customer(id="c", contract=fmt.Contract(rate_card="std",
                                                              on_exhausted="block" if block else "bill"))])


def expected_key(g) -> tuple:
    t = g.terms
    narrow = len(t.products) if t.products is not None else 10**9
    return (t.priority, 1 if t.paid else 0, narrow, t.end, t.start, t.id)


class LedgerMachine(RuleBasedStateMachine):
    @initialize(block=st.booleans())
    def setup(self, block: bool) -> None:
        self.book = Book(":memory:")  # in-memory on purpose: hundreds of short runs
        s = scenario(block)
        self.runtime = runtime_for(s, self.book)
        self.results = Results(self.runtime)
        for item in declared_inputs(s):
            assert self.runtime.apply(item).status == "accepted"
        self.now = s.start
        self.n = 0
        self.runtime.advance_to(self.now)

    def _grants(self) -> list:
        return list(self.results.grants("c"))

    def _submit(self, entry: fmt.Entry) -> None:
        self.n += 1
        self.runtime.advance_to(entry.at)
        answer = self.runtime.apply(entry_input(self.runtime.catalog, entry, self.n, f"$.timeline[{self.n}]"))
        assert answer.status == "accepted", answer

    @rule(amount=st.integers(1, 5000), priority=st.integers(0, 3), paid=st.booleans(),
          products=st.sampled_from([None, ["api"], ["compute"], ["api", "compute"]]),
          hours=st.integers(1, 2000))
    def grant(self, amount: int, priority: int, paid: bool, products, hours: int) -> None:
        self._submit(fmt.Entry(at=self.now, buy_credits=fmt.BuyCredits(
            customer="c", credit_type="USD", amount=Amount(amount) / 100, price=Amount("1.00") if paid else Amount("0"),
            priority=priority, end=self.now + hours * HOUR, id=f"g{self.n}", products=products)))

    @rule(product=st.sampled_from(PRODUCTS), n=st.integers(1, 3000))
    def use(self, product: str, n: int) -> None:
        grants = {g.id: g for g in self._grants()}
        before = {gid: g.remaining for gid, g in grants.items()}
        usable = sorted((g for g in grants.values()
                         if g.remaining > 0 and g.start <= self.now < g.end
                         and (g.products is None or product in g.products)), key=expected_key)
        self._submit(fmt.Entry(at=self.now, usage=fmt.UsageEvent(id=f"e{self.n}", customer="c", event_type=product,
                                                                 properties={"n": n})))
        drawn = [gid for gid, rem in before.items() if grants[gid].remaining != rem]
        order = [g.id for g in usable]
        # Draws form a prefix of the expected order, every grant but the last drained.
        assert drawn == order[: len(drawn)] or sorted(drawn, key=order.index) == order[: len(drawn)]
        for gid in sorted(drawn, key=order.index)[:-1]:
            assert grants[gid].remaining == 0

    @rule(hours=st.integers(1, 24 * 40))
    def advance(self, hours: int) -> None:
        target = min(self.now + hours * HOUR, self.runtime.horizon - 1)
        self.now = target
        self.runtime.advance_to(target)

    @invariant()
    def ledger_holds(self) -> None:
        if not hasattr(self, "book"):
            return
        self.book.flush()
        assert violations(self.book.conn) == []
        for g in self._grants():
            assert g.remaining >= 0
            assert -self.book.balance(f"grant/c/{g.id}") == g.remaining

    def teardown(self) -> None:
        if hasattr(self, "book"):
            self.book.conn.close()


LedgerMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestLedgerMachine = LedgerMachine.TestCase


def test_amount_strategy_is_exact() -> None:
    assert Amount(1234) / 100 == Decimal("12.34")
