"""The Customer actor, usage: rate an event on every product it feeds, draw grants through
reserve -> commit / release across the event's seat, the customer's pool and its ancestors'
pools, and book what no grant covered (rules 4 and 5)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from meterbook.actors.catalog import Price, Product
from meterbook.actors.customer_state import CustomerState
from meterbook.actors.drawdown import rank, take_in_order
from meterbook.actors.errors import CommandError, require
from meterbook.actors.mailbox import pool_address, seat_address
from meterbook.actors.messages import (
    Charge,
    Commit,
    Drawn,
    DrawnTake,
    Held,
    Offer,
    Quote,
    Release,
    Reserve,
    Take,
    Usage,
)
from meterbook.actors.money import in_range
from meterbook.actors.rating import Aggregate, charge_units, event_quantity
from meterbook.ledger import MAX_UNITS


class Rated:
    """One product's share of an event: its charge and the holds placed to cover it."""

    __slots__ = ("after", "agg", "charge", "covered", "holds", "price", "product", "quantity")

    def __init__(self, product: Product, price: Price, agg: Aggregate, quantity: Decimal | int | str,
                 after: Decimal | int, charge: int) -> None:
        self.product = product
        self.price = price
        self.agg = agg
        self.quantity = quantity
        self.after = after
        self.charge = charge
        self.holds: list[str] = []  # holders that placed a hold for this charge
        self.covered = 0


class UsageMixin(CustomerState):
    """Usage rating and drawdown."""

    def on_usage(self, msg: Usage, now: int) -> None:
        """Rate one event, hold grants for each charge, then commit all or release all. The
        event's time (`msg.at_us`, its timestamp) picks its period, rate and grants; what it
        books is booked now, at its arrival (Live time)."""
        products = self.catalog.by_event_type.get(msg.event_type)
        if not products:
            return
        rated = self._rate(msg, products, self._aggregates(msg))
        charged = [r for r in rated if r.charge > 0]
        if len(charged) == 1 and not self.ancestors and not (self.seat_keys and self._names_a_seat(msg)):
            self._settle_one(msg, rated, charged[0], now)
            return
        block = self.contract.on_exhausted == "block"
        try:
            for r in charged:
                self._hold(msg, r)
            short = [r for r in charged if r.covered < r.charge]
            unpriced = [r for r in short if not self.catalog.units[r.price.unit].billable]
            if unpriced and not block:
                self._refuse_unbillable(msg, unpriced[0])
        except BaseException:
            self._release(msg, rated)
            raise
        if block and short:
            self._release(msg, rated)
            self._deny(msg)
            return
        for r in rated:
            r.agg.commit(r.quantity, r.after)
            if r.charge > 0:
                self._book(msg, r, self._commit(msg, r), now)

    def _settle_one(self, msg: Usage, rated: list[Rated], r: Rated, now: int) -> None:
        """One charge, one holder: reserve and commit in a single message. What may not be
        billed as overage (block mode, a credit type without a fiat rate) is all or nothing."""
        unit = r.price.unit
        block = self.contract.on_exhausted == "block"
        all_or_nothing = block or not self.catalog.units[unit].billable
        takes: tuple[DrawnTake, ...] = ()
        pool = self.pools.get(unit)
        if pool is not None:
            drawn = self.mail.ask(pool, Reserve(
                hold="", unit=unit, product=r.product.id, at_us=msg.at_us, units=r.charge,
                requester=self.id, settle="commit_if_full" if all_or_nothing else "commit", cause=msg.cause))
            assert isinstance(drawn, Drawn)
            takes = drawn.takes
        for t in takes:
            r.covered += t.units
        if r.covered < r.charge and all_or_nothing:
            if not block:
                self._refuse_unbillable(msg, r)
            self._deny(msg)
            return
        for each in rated:
            each.agg.commit(each.quantity, each.after)
        self._book(msg, r, takes, now)

    def _names_a_seat(self, msg: Usage) -> bool:
        """Whether the event names a seat of this customer that may hold an allocation."""
        for key in self.seat_keys:
            seat = msg.properties.get(key)
            if seat is not None and str(seat) in self.seats:
                return True
        return False

    def _refuse_unbillable(self, msg: Usage, r: Rated) -> None:
        require(False, f"usage {msg.id}: credit type {r.price.unit!r} has no fiat_per_credit, so its overage "
                       "cannot be billed")

    def _deny(self, msg: Usage) -> None:
        """Rule 5: an event that cannot be covered in full is denied whole, nothing drawn."""
        self.denied += 1
        self.denied_ids.append(msg.id)

    def _aggregates(self, msg: Usage) -> dict[str, Aggregate]:
        """The usage aggregates of the period holding the event: the one in progress, or (Live
        time) the ended one waiting out its grace, so a late event continues its tiers."""
        if msg.at_us >= self.period_start:
            return self.aggs
        held = self.in_grace(msg.at_us)
        require(held is not None, f"usage {msg.id}: the period holding its timestamp is settled already")
        assert held is not None
        return held.aggs

    def _rate(self, msg: Usage, products: list[Product], aggs: dict[str, Aggregate]) -> list[Rated]:
        """The charge the event adds on each product it feeds, at the rate in force at its
        time, on the aggregates of its period (nothing is changed yet)."""
        rated = []
        props = msg.properties
        for product in products:
            metric = product.metric
            assert metric is not None
            if metric.filters and not metric.matches(props):
                continue
            try:
                qty = event_quantity(metric, props)
            except ValueError as exc:
                raise CommandError(f"usage {msg.id}: {metric.property}: {exc}") from None
            if qty is None:
                continue
            # A negative quantity would lower the period's aggregate and get re-billed later;
            # corrections are credits, not negative usage.
            require(type(qty) is str or qty >= 0,  # type: ignore[operator]
                    f"usage {msg.id}: {metric.property} is negative ({qty}); send a correction as a credit")
            price = self.price(product.id, msg.at_us)
            if price is None:
                continue
            agg = aggs.get(product.id)
            if agg is None:
                agg = aggs[product.id] = Aggregate(metric.aggregation)
            after = agg.after(qty)
            charge = charge_units(price, agg.value, after, price.scale)
            if not -MAX_UNITS <= charge <= MAX_UNITS:
                in_range(charge, price.scale, f"usage {msg.id}: the charge for {metric.property or 'the event'}")
            rated.append(Rated(product, price, agg, qty, after, charge))
        return rated

    def _hold(self, msg: Usage, r: Rated) -> None:
        """Hold what the event's seat, then the pooled grants (own and ancestors'), can give."""
        unit, product, need = r.price.unit, r.product.id, r.charge
        hold = f"{msg.cause}:{product}"
        for key in self.seat_keys:
            seat = msg.properties.get(key)
            if seat is not None and str(seat) in self.seats and need > r.covered:
                r.covered += self._ask_held(seat_address(self.id, str(seat)), r, Reserve(
                    hold=hold, unit=unit, product=product, at_us=msg.at_us, units=need - r.covered,
                    requester=self.id, cause=msg.cause))
        if need <= r.covered:
            return
        if not self.ancestors:
            if unit in self.pools:
                r.covered += self._ask_held(pool_address(self.id, unit), r, Reserve(
                    hold=hold, unit=unit, product=product, at_us=msg.at_us, units=need - r.covered,
                    requester=self.id, cause=msg.cause))
            return
        self._hold_across(msg, r, hold)

    def _hold_across(self, msg: Usage, r: Rated, hold: str) -> None:
        """Rule 4 across owners: quote every pool that may pay, merge in rank order (own
        before an ancestor's, nearer before farther), then take exactly the plan."""
        unit, product = r.price.unit, r.product.id
        offered: list[tuple[tuple[Any, ...], tuple[str, str], int]] = []
        for distance, owner in enumerate((self.id, *self.ancestors)):
            offer = self.mail.ask(pool_address(owner, unit), Quote(
                unit=unit, product=product, at_us=msg.at_us, requester=self.id, cause=msg.cause))
            if isinstance(offer, Offer):
                offered += [(rank(o.rank, distance, o.grant), (offer.holder, o.grant), o.units) for o in offer.items]
        offered.sort(key=lambda item: item[0])
        takes_in_order, _ = take_in_order(((source, units) for _, source, units in offered), r.charge - r.covered)
        plan: dict[str, list[tuple[str, int]]] = {}
        for (holder, grant), take in takes_in_order:
            plan.setdefault(holder, []).append((grant, take))
        for holder, takes in plan.items():
            r.covered += self._ask_held(holder, r, Take(hold=hold, takes=tuple(takes), requester=self.id,
                                                        cause=msg.cause))

    def _ask_held(self, holder: str, r: Rated, msg: Reserve | Take) -> int:
        held = self.mail.ask(holder, msg)
        if not isinstance(held, Held):
            return 0
        r.holds.append(holder)
        return held.units

    def _release(self, msg: Usage, rated: list[Rated]) -> None:
        for r in rated:
            hold = f"{msg.cause}:{r.product.id}"
            for holder in r.holds:
                self.mail.ask(holder, Release(hold=hold, cause=msg.cause))
            r.holds = []

    def _commit(self, msg: Usage, r: Rated) -> list[DrawnTake]:
        """Commit the holds of one rated charge; what each grant gave."""
        hold = f"{msg.cause}:{r.product.id}"
        takes: list[DrawnTake] = []
        for holder in r.holds:
            drawn = self.mail.ask(holder, Commit(hold=hold, at_us=msg.at_us, requester=self.id, cause=msg.cause))
            assert isinstance(drawn, Drawn)
            takes += drawn.takes
        return takes

    def _book(self, msg: Usage, r: Rated, takes: Sequence[DrawnTake], now: int) -> None:
        """Book one rated charge in one ledger transaction: grants drawn, overage billed."""
        product, unit, charge = r.product, r.price.unit, r.charge
        chart = self.chart
        currency = self.catalog.currency.id
        unbilled = chart.unbilled(self.payer)
        rev = self._revenue.get((product.id, unit))
        if rev is None:
            rev = self._revenue[(product.id, unit)] = chart.revenue(product.id, unit)
        legs = [(rev, -charge)]
        postpaid = 0
        for t in takes:
            legs.append((t.account, t.units))
            if t.postpaid:
                postpaid += t.units
                legs += [(unbilled, t.units), (chart.commit_contract(t.owner, t.grant), -t.units)]
        left = charge - r.covered
        billed = 0
        if left:
            if unit == currency:
                billed = left
                legs.append((unbilled, left))
            else:
                billed = self.catalog.fiat_units(unit, left)
                legs += [(chart.overage(unit), left), (unbilled, billed), (chart.revenue(product.id, currency), -billed)]
        self.book.post(f"{msg.cause}:{product.id}", now, "usage", msg.cause, legs)
        # The product's usage line, here or (payer: parent) on the payer's invoice.
        money, credits = billed + postpaid, charge - left - postpaid
        if self.payer == self.id:
            self.invoice_for(msg.at_us, msg.cause).accrue_usage(product.id, product.name, self.id, True, unit, money,
                                                                charge, credits, self.contract.package)
        else:
            self.mail.tell(self.payer, Charge(
                kind="usage", description=product.name, units=money, source=self.id, at_us=msg.at_us,
                product=product.id, unit=unit, package=self.contract.package, gross_units=charge,
                credits_units=credits, cause=msg.cause))
        if unit == currency:
            self.roll_up(msg.at_us, msg.cause, usage_units=charge)
