"""Property tests: random grants, usage, expiries and period closes never break balance per
unit, never draw a grant below zero, and always draw in rule 4's order."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from meterbook.engine.build import entry_input
from meterbook.engine.runtime import Engine
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
    narrow = len(g.products) if g.products is not None else 10**9
    return (g.priority, 1 if g.paid else 0, narrow, g.end, g.start, g.id)


class LedgerMachine(RuleBasedStateMachine):
    @initialize(block=st.booleans())
    def setup(self, block: bool) -> None:
        self.book = Book(":memory:")  # in-memory on purpose: hundreds of short runs
        self.engine = Engine(scenario(block), self.book)
        self.now = self.engine.scenario.start
        self.n = 0
        self.engine.run_until(self.now)

    def _submit(self, entry: fmt.Entry) -> None:
        self.n += 1
        self.engine.submit(entry_input(entry, f"$.timeline[{self.n}]", "USD"))
        self.engine.run_until(entry.at)

    @rule(amount=st.integers(1, 5000), priority=st.integers(0, 3), paid=st.booleans(),
          products=st.sampled_from([None, ["api"], ["compute"], ["api", "compute"]]),
          hours=st.integers(1, 2000))
    def grant(self, amount: int, priority: int, paid: bool, products, hours: int) -> None:
        self._submit(fmt.Entry(at=self.now, buy_credits=fmt.BuyCredits(
            customer="c", credit_type="USD", amount=Amount(amount) / 100, price=Amount("1.00") if paid else Amount("0"),
            priority=priority, end=self.now + hours * HOUR, id=f"g{self.n}", products=products)))

    @rule(product=st.sampled_from(PRODUCTS), n=st.integers(1, 3000))
    def use(self, product: str, n: int) -> None:
        actor = self.engine.customers["c"]
        pool = actor.pools.get("USD")
        before = {g.id: g.remaining for g in (pool.grants if pool else [])}
        usable = sorted((g for g in (pool.grants if pool else [])
                         if g.remaining > 0 and g.start <= self.now < g.end
                         and (g.products is None or product in g.products)), key=expected_key)
        self._submit(fmt.Entry(at=self.now, usage=fmt.UsageEvent(id=f"e{self.n}", customer="c", event_type=product,
                                                                 properties={"n": n})))
        drawn = [gid for gid, rem in before.items() if actor.grants[gid].remaining != rem]
        order = [g.id for g in usable]
        # Draws form a prefix of the expected order, every grant but the last drained.
        assert drawn == order[: len(drawn)] or sorted(drawn, key=order.index) == order[: len(drawn)]
        for gid in sorted(drawn, key=order.index)[:-1]:
            assert actor.grants[gid].remaining == 0

    @rule(hours=st.integers(1, 24 * 40))
    def advance(self, hours: int) -> None:
        target = min(self.now + hours * HOUR, self.engine.horizon - 1)
        self.now = target
        self.engine.run_until(target)

    @invariant()
    def ledger_holds(self) -> None:
        if not hasattr(self, "book"):
            return
        self.book.flush()
        assert violations(self.book.conn) == []
        for g in self.engine.customers["c"].grants.values():
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
