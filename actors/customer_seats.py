"""The Customer actor, subscriptions: advance charges, seats and quantities (rule 2)."""

from __future__ import annotations

from fractions import Fraction

from meterbook.actors.catalog import Price, SubscriptionSpec
from meterbook.actors.customer_grants import GrantsMixin
from meterbook.actors.errors import require
from meterbook.actors.invoice import Line
from meterbook.actors.messages import AddSeats, RemoveSeats, SetQuantity
from meterbook.actors.money import in_range
from meterbook.actors.periods import fraction_left

_WHAT = {"subscription": "", "increase": " added", "credit": " unused, credited"}


class SeatsMixin(GrantsMixin):
    """Subscription charges and the commands that change seats and quantities."""

    def sub_quantity(self, sub_id: str) -> int:
        """Seats assigned, or the quantity, of one subscription now."""
        seats = self.assigned.get(sub_id)
        return len(seats) if seats is not None else self.quantity.get(sub_id, 0)

    def charge_subscription(self, sub_id: str, qty: int, fraction: Fraction, now: int, cause: str, kind: str,
                            priced_at: int | None = None) -> None:
        """Bill `qty` of a subscription for the rest of the period (`kind`: the advance
        charge, an increase, or a credit for the unused part after a package change), at the
        price in force at `priced_at` (default: the period's start, rule 7)."""
        sub = self.subscription(sub_id)
        price = self.price(sub.product, self.period_start if priced_at is None else priced_at)
        units = self.subscription_units(sub, qty, fraction, price)
        share = fraction if sub.proration else Fraction(1)
        product = self.catalog.products[sub.product]
        desc = f"{product.name or product.id} x{qty}{_WHAT[kind]}"
        if share != 1:
            desc += f" (prorated {float(share):.4f})"
        line_kind = "subscription" if kind == "subscription" else f"subscription_{kind}"
        line = Line(kind=line_kind, description=desc, units=units if kind != "credit" else -units,
                    product=sub.product, quantity=str(qty), package=self.contract.package)
        self.bill(line, now, line_kind, cause, self.chart.revenue(sub.product, self.catalog.currency.id),
                  f"sub:{self.id}:{sub_id}:{now}:{self.next_id()}")

    def subscription_units(self, sub: SubscriptionSpec, qty: int, fraction: Fraction, price: Price | None) -> int:
        """The charge for `qty` of a subscription at `price` for `fraction` of the period (all of
        it without proration), rounded to the cent; refused without a flat price in the
        currency, or beyond the ledger's range."""
        currency = self.catalog.currency
        require(price is not None and price.flat is not None and price.unit == currency.id,
                f"no flat price in {currency.id} for subscription product {sub.product!r}")
        assert price is not None and price.flat is not None
        share = fraction if sub.proration else Fraction(1)
        return in_range(self.money_line(Fraction(price.flat) * qty * share), currency.scale,
                        f"the charge for {qty} of subscription {sub.id!r}")

    def on_add_seats(self, msg: AddSeats, now: int) -> None:
        """Assign seats; charge and grant for any increase above what this period paid."""
        sub = self.subscription(msg.subscription)
        require(sub.seat_based, f"subscription {sub.id!r} is not seat-based")
        assigned = self.assigned[sub.id]
        require(len(set(msg.seats)) == len(msg.seats), "a seat is listed twice")
        for seat in msg.seats:
            require(seat not in assigned, f"seat {seat!r} is already assigned on {sub.id!r}")
        fresh = [seat for seat in msg.seats if seat not in self.seats]
        for seat in msg.seats:
            assigned.append(seat)
            self._seat(seat)
        self._increase(sub.id, now, msg.cause, fresh)

    def on_remove_seats(self, msg: RemoveSeats, now: int) -> None:
        """Unassign seats; the decrease takes effect at the next period."""
        sub = self.subscription(msg.subscription)
        require(sub.seat_based, f"subscription {sub.id!r} is not seat-based")
        assigned = self.assigned[sub.id]
        require(len(set(msg.seats)) == len(msg.seats), "a seat is listed twice")
        for seat in msg.seats:
            require(seat in assigned, f"seat {seat!r} is not assigned on {sub.id!r}")
        for seat in msg.seats:
            assigned.remove(seat)
            # Decreases take effect next period: the seat keeps its allocation until then.
            self.seats[seat] = False

    def on_set_quantity(self, msg: SetQuantity, now: int) -> None:
        """Change a quantity subscription; increases are prorated, decreases wait."""
        sub = self.subscription(msg.subscription)
        require(not sub.seat_based, f"subscription {sub.id!r} is seat-based: use add_seats")
        require(msg.quantity >= 0, "quantity must not be negative")
        self.quantity[sub.id] = msg.quantity
        self._increase(sub.id, now, msg.cause, [])

    def _increase(self, sub_id: str, now: int, cause: str, fresh: list[str]) -> None:
        """Charge and grant for quantity above the most already paid this period (rule 2)."""
        qty = self.sub_quantity(sub_id)
        extra = qty - self.paid_max.get(sub_id, 0)
        if extra <= 0:
            return
        self.paid_max[sub_id] = qty
        fraction = fraction_left(now)
        self.charge_subscription(sub_id, extra, fraction, now, cause, "increase")
        linked = tuple(rc for rc in self.contract.recurring if rc.per_seat_of == sub_id)
        pooled = tuple(rc for rc in linked if rc.allocation == "pooled")
        individual = tuple(rc for rc in linked if rc.allocation == "individual")
        self.grant_recurring(pooled, now, self.period_end, fraction, cause, None, extra)
        # Allowance follows payment: only seats new this period, up to the paid increase.
        self.grant_recurring(individual, now, self.period_end, fraction, cause, fresh[:extra])
