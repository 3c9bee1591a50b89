"""The Customer actor: contract, periods, subscriptions, usage rating, drawdown, invoices."""

from __future__ import annotations

from fractions import Fraction

from meterbook.actors.accounts import Chart
from meterbook.actors.catalog import (
    FOREVER,
    Catalog,
    ContractSpec,
    GrantSpec,
    Price,
    RateCard,
    RecurringSpec,
    SubscriptionSpec,
)
from meterbook.actors.drawdown import ordered, plan, usable
from meterbook.actors.errors import CommandError, invariant, require
from meterbook.actors.invoice import Invoice, Line
from meterbook.actors.messages import (
    PHASE_ACTIVATE,
    PHASE_BOUNDARY,
    PHASE_EXPIRE,
    Activate,
    AddSeats,
    Boundary,
    BuyCredits,
    ChangePackage,
    Expire,
    InvoiceItem,
    Msg,
    RemoveSeats,
    SetQuantity,
    Start,
    Timer,
    Usage,
)
from meterbook.actors.money import round_to_display, to_units
from meterbook.actors.parent import ParentAccount, Rollup
from meterbook.actors.periods import date_label, month_start, next_month
from meterbook.actors.pool import CreditPool, Grant
from meterbook.actors.rating import Aggregate, charge_units, event_quantity
from meterbook.actors.seat import Seat
from meterbook.ledger import Book

_NONE: tuple = ()


_label = date_label


class Customer:
    """One customer account. Handles its messages in dispatch order; owns its pools and seats.

    Draws from an ancestor's shared grants happen inside the drawing customer's step: the
    engine serialises every account of one tree, so no two draws ever race for a grant."""

    def __init__(
        self, *, id: str, name: str, contract: ContractSpec, start: int, catalog: Catalog,
        chart: Chart, book: Book, horizon: int, seats: tuple[str, ...] = (), payer: str = "self",
    ) -> None:
        self.id = id
        self.name = name
        self.contract = contract
        self.start = start
        self.catalog = catalog
        self.chart = chart
        self.book = book
        self.horizon = horizon
        self.payer = payer
        self.parent: Customer | None = None
        self.rollup = ParentAccount(id, self.period_key)
        self.pools: dict[str, CreditPool] = {}
        self.seats: dict[str, Seat] = {}
        self.assigned: dict[str, list[str]] = {}
        self.quantity: dict[str, int] = {}
        self.paid_max: dict[str, int] = {}
        self.grants: dict[str, Grant] = {}
        self.specs: dict[str, GrantSpec] = {}
        self.recurring_amounts: dict[tuple[str, str | None], int] = {}
        self.invoices: list[Invoice] = []
        self.invoice: Invoice | None = None
        self.period_start = start
        self.period_end = next_month(start)
        self.aggs: dict[str, Aggregate] = {}
        self.denied = 0
        self.denied_ids: list[str] = []
        self.breakage: dict[tuple[str, int], int] = {}
        self.package_history: list[tuple[int, str | None, int]] = []
        self._counter = 0
        self._revenue: dict[tuple[str, str], int] = {}
        self._install(contract, seats)
        self._handlers = {
            Usage: self.on_usage, Start: self.on_start, Boundary: self.on_boundary,
            Expire: self.on_expire, Activate: self.on_activate, InvoiceItem: self.on_invoice_item,
            AddSeats: self.on_add_seats, RemoveSeats: self.on_remove_seats,
            SetQuantity: self.on_set_quantity, BuyCredits: self.on_buy_credits,
            ChangePackage: self.on_change_package,
        }

    # -- plumbing -------------------------------------------------------------------------
    def handle(self, msg: Msg, now: int) -> list[Timer] | tuple:
        """Apply one message at engine time `now`; returns the timers it asks for."""
        return self._handlers[type(msg)](msg, now)

    def _install(self, contract: ContractSpec, seats: tuple[str, ...]) -> None:
        self.contract = contract
        self._overrides = RateCard(f"{self.id}/overrides")
        self._prices: dict[str, tuple] = {}
        for product, starting_at, price in contract.overrides:
            self._overrides.set(product, starting_at, price)
        self.seat_keys = tuple(
            sorted({rc.seat_key for rc in contract.recurring if rc.allocation == "individual"})
        )
        for sub in contract.subscriptions:
            if sub.seat_based:
                self.assigned.setdefault(sub.id, list(seats))
            else:
                self.quantity.setdefault(sub.id, sub.quantity)
        for seat in seats:
            self.seats.setdefault(seat, Seat(self.id, self._seat_sub() or "", seat))

    def _seat_sub(self) -> str | None:
        for sub in self.contract.subscriptions:
            if sub.seat_based:
                return sub.id
        return None

    def _next_id(self) -> int:
        self._counter += 1
        return self._counter

    def period_key(self, at_us: int) -> int:
        """Start of this customer's period holding `at_us` (a first period may be short)."""
        return max(self.start, month_start(at_us))

    def price(self, product: str, at_us: int) -> Price | None:
        """The price in force: the contract's override pins it, else the rate card's."""
        cached = self._prices.get(product)
        version = self.catalog.version
        if cached is not None and cached[3] == version and cached[1] <= at_us < cached[2]:
            return cached[0]
        pinned, lo, hi = self._overrides.price_window(product, at_us)
        if pinned is None:
            card = self.catalog.rate_cards[self.contract.rate_card]
            pinned, card_lo, card_hi = card.price_window(product, at_us)
            lo, hi = max(lo, card_lo), min(hi, card_hi)
        self._prices[product] = (pinned, lo, hi, version)
        return pinned

    def payer_of(self) -> Customer:
        """Who receives this customer's charges (`payer: parent` climbs, at any depth)."""
        if self.payer == "self":
            return self
        node = self
        while node.payer == "parent" and node.parent is not None:
            node = node.parent
        return node

    def ancestors(self) -> list[Customer]:
        """Parent, grandparent, ... nearest first (the tree as it stands now)."""
        out = []
        node = self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    def pool(self, unit: str) -> CreditPool:
        """This customer's CreditPool of one unit, opened on first use."""
        found = self.pools.get(unit)
        if found is None:
            found = self.pools[unit] = CreditPool(self.id, unit)
        return found

    def _bill(self, line: Line, at_us: int, kind: str, cause: str, revenue: int, key: str) -> None:
        """Put a currency line on the paying customer's invoice and book it (exact units)."""
        payer = self.payer_of()
        invoice = payer.invoice
        require(invoice is not None, f"customer {payer.id} has no open invoice at this time")
        assert invoice is not None
        if payer is not self:
            line.customer = self.id
            line.description = f"{line.description} ({self.id})"
        if line.package is None:
            line.package = self.contract.package
        invoice.add(line)
        self.book.post(key, at_us, kind, cause, [
            (self.chart.unbilled(payer.id), line.units), (revenue, -line.units)])

    def _money_line(self, value: Fraction) -> int:
        """A currency amount rounded half-up to the cent, at the ledger scale (rule 3)."""
        cur = self.catalog.currency
        return round_to_display(value, cur.scale, cur.decimals)

    # -- periods --------------------------------------------------------------------------
    def on_start(self, msg: Start, now: int) -> list[Timer]:
        """Begin the contract: first (possibly short) period, its charges and grants."""
        if msg.contract is not None:
            seats = next((self.assigned[s.id] for s in self.contract.subscriptions if s.seat_based), [])
            self.assigned, self.quantity = {}, {}
            self._install(msg.contract, tuple(seats))
        self.package_history.append((now, self.contract.package, self.contract.version))
        timers = self._open_period(now, next_month(now), now, msg.cause)
        for spec in self.contract.grants:
            timers += self._schedule_grant(spec, now, msg.cause)
        return timers

    def _schedule_grant(self, spec: GrantSpec, now: int, cause: str) -> list[Timer]:
        self.specs[spec.id] = spec
        timers = [Timer(max(spec.start, now), PHASE_ACTIVATE, self.id, Activate(grant=spec.id, cause=cause))]
        for at_us, amount in spec.invoice:
            timers.append(Timer(max(at_us, now), PHASE_ACTIVATE, self.id,
                                InvoiceItem(grant=spec.id, amount=amount, cause=cause)))
        return timers

    def _open_period(self, start: int, end: int, now: int, cause: str) -> list[Timer]:
        self.period_start, self.period_end = start, end
        self.invoice = Invoice(self.id, start, end)
        self.invoices.append(self.invoice)
        self.aggs = {}
        self.paid_max = {}
        for seat_id in [s for s, seat in self.seats.items() if not seat.assigned]:
            del self.seats[seat_id]
        fraction = Fraction(end - now, end - month_start(now))
        for sub in self.contract.subscriptions:
            qty = self._sub_quantity(sub.id)
            self.paid_max[sub.id] = qty
            self._charge_subscription(sub.id, qty, fraction, now, cause, "subscription")
        timers = [Timer(end, PHASE_BOUNDARY, self.id, Boundary(cause=f"period:{self.id}:{_label(end)}"))]
        timers += self._grant_recurring(self.contract.recurring, now, end, fraction, cause, None)
        return timers

    def _sub_quantity(self, sub_id: str) -> int:
        seats = self.assigned.get(sub_id)
        return len(seats) if seats is not None else self.quantity.get(sub_id, 0)

    def _charge_subscription(self, sub_id: str, qty: int, fraction: Fraction, now: int,
                             cause: str, kind: str) -> None:
        sub = next(s for s in self.contract.subscriptions if s.id == sub_id)
        price = self.price(sub.product, self.period_start)
        require(price is not None and price.flat is not None and price.unit == self.catalog.currency.id,
                f"no flat price in {self.catalog.currency.id} for subscription product {sub.product!r}")
        assert price is not None and price.flat is not None
        share = fraction if sub.proration else Fraction(1)
        units = self._money_line(Fraction(price.flat) * qty * share)
        product = self.catalog.products[sub.product]
        what = {"subscription": "", "increase": " added", "credit": " unused, credited"}[kind]
        desc = f"{product.name or product.id} x{qty}{what}"
        if share != 1:
            desc += f" (prorated {float(share):.4f})"
        line = Line(kind="subscription" if kind == "subscription" else f"subscription_{kind}",
                    description=desc, units=units if kind != "credit" else -units,
                    product=sub.product, quantity=str(qty), package=self.contract.package)
        n = self._next_id()
        self._bill(line, now, "subscription" if kind == "subscription" else f"subscription_{kind}", cause,
                   self.chart.revenue(sub.product, self.catalog.currency.id),
                   f"sub:{self.id}:{sub_id}:{now}:{n}")

    def _grant_recurring(self, specs: tuple[RecurringSpec, ...], now: int, end: int,
                         fraction: Fraction, cause: str, only: list[str] | None,
                         count: int | None = None) -> list[Timer]:
        """Grant recurring credits for [now, end): `only` names seats for individual
        allocations; `count` is the seat count for pooled ones (default: all assigned)."""
        timers: list[Timer] = []
        whole = Fraction(1)
        for rc in specs:
            unit = self.catalog.units[rc.unit]
            # Credits tied to seats follow their subscription: not prorated when it is not.
            linked = next((s for s in self.contract.subscriptions if s.id == rc.per_seat_of), None)
            share = whole if linked is not None and not linked.proration else fraction
            # Targets: (seat or None for the pool, how many shares of `amount` it receives).
            if rc.per_seat_of is None:
                if only is not None or count is not None:
                    continue
                targets: list[tuple[str | None, int]] = [(None, 1)]
            elif rc.allocation == "pooled":
                n = len(self.assigned.get(rc.per_seat_of, ())) if count is None else count
                targets = [(None, n)] if n else []
            else:
                seats = self.assigned.get(rc.per_seat_of, []) if only is None else only
                targets = [(seat, 1) for seat in seats]
            # Each share is rounded on its own: every paid seat adds the same amount.
            share_units = round_to_display(Fraction(rc.amount) * share, unit.scale, unit.decimals)
            for seat, shares in targets:
                units = share_units * shares
                gid = f"{rc.id}/{seat}/{_label(now)}" if seat else f"{rc.id}/{_label(now)}"
                if gid in self.grants:
                    gid = f"{gid}+{self._next_id()}"
                g = Grant(id=gid, owner=self.id, unit=rc.unit, amount=units, priority=rc.priority,
                          paid=False, products=rc.products, start=now, end=end, seat=seat,
                          recurring=rc.id)
                key = (rc.id, seat)
                base = 0 if now == self.period_start else self.recurring_amounts.get(key, 0)
                self.recurring_amounts[key] = base + units
                self._fund(g, self.chart.promotional(rc.unit), now, cause, "recurring_grant")
                timers.append(Timer(end, PHASE_EXPIRE, self.id, Expire(grant=gid, cause=cause)))
        return timers

    def _fund(self, g: Grant, source: int, now: int, cause: str, kind: str) -> None:
        """Open a grant's account, book its funding, and hand it to its pool or seat."""
        g.account = self.chart.grant(self.id, g.id, g.unit)
        g.remaining = g.granted
        g.active = True
        self.grants[g.id] = g
        self.book.post(f"grant:{self.id}:{g.id}", now, kind, cause,
                       [(source, g.granted), (g.account, -g.granted)])
        if g.seat is not None:
            self.seats[g.seat].add(g)
        else:
            self.pool(g.unit).add(g)

    def on_boundary(self, msg: Boundary, now: int) -> list[Timer]:
        """Close the period ending now and open the next, unless the run ends here."""
        invariant(now == self.period_end, f"{self.id}: boundary at {now}, period ends {self.period_end}")
        self._finalize(now, msg.cause)
        if now >= self.horizon:
            self.invoice = None
            return []
        return self._open_period(now, next_month(now), now, msg.cause)

    def _finalize(self, now: int, cause: str) -> None:
        inv = self.invoice
        assert inv is not None
        cur = self.catalog.currency
        total = inv.rounded_total(cur.scale, cur.decimals)
        exact = sum(line.units for line in inv.lines)
        inv.total_units = total
        inv.status = "final"
        self.book.post(f"invoice:{self.id}:{inv.start}", now, "invoice_finalized", cause, [
            (self.chart.receivable(self.id), total), (self.chart.unbilled(self.id), -exact),
            (self.chart.rounding(), exact - total)])
        self._roll(Rollup(source=self.id, at_us=inv.start, spend_units=total))

    def _roll(self, msg: Rollup) -> None:
        self.rollup.handle(msg)
        for ancestor in self.ancestors():
            ancestor.rollup.handle(msg)

    # -- grants ---------------------------------------------------------------------------
    def on_activate(self, msg: Activate, now: int) -> list[Timer]:
        """Fund a contract grant (credit or commit) at its start."""
        spec = self.specs[msg.grant]
        paid = spec.kind == "commit"
        g = Grant(id=spec.id, owner=self.id, unit=spec.unit, amount=to_units(spec.amount, self._scale(spec.unit)),
                  priority=spec.priority, paid=paid, products=spec.products, start=spec.start,
                  end=spec.end, child_access=spec.child_access, commit_type=spec.commit_type)
        if not paid:
            self._fund(g, self.chart.promotional(spec.unit), now, msg.cause, "credit_grant")
        elif spec.unit != self.catalog.currency.id:
            self._fund(g, self.chart.issued(spec.unit), now, msg.cause, "commit_grant")
        else:
            contract = self.chart.commit_contract(self.id, spec.id)
            g.account = self.chart.grant(self.id, g.id, g.unit)
            billed = g.granted
            if spec.commit_type == "prepaid":
                billed = sum(to_units(a, self._scale(spec.unit)) for _, a in spec.invoice)
            legs = [(contract, billed), (self.chart.commit_discount(), g.granted - billed),
                    (g.account, -g.granted)]
            g.remaining = g.granted
            g.active = True
            self.grants[g.id] = g
            self.book.post(f"grant:{self.id}:{g.id}", now, "commit_grant", msg.cause, legs)
            self.pool(g.unit).add(g)
        if g.end < FOREVER:
            return [Timer(g.end, PHASE_EXPIRE, self.id, Expire(grant=g.id, cause=msg.cause))]
        return []

    def _scale(self, unit: str) -> int:
        return self.catalog.units[unit].scale

    def on_invoice_item(self, msg: InvoiceItem, now: int) -> tuple:
        """Bill one item of a commit's invoice schedule."""
        spec = self.specs[msg.grant]
        units = to_units(msg.amount, self.catalog.currency.scale)
        revenue = (self.chart.commit_contract(self.id, spec.id)
                   if spec.unit == self.catalog.currency.id else self.chart.credit_packs())
        line = Line(kind="commit_invoice", description=f"Commit {spec.id} ({spec.commit_type})", units=units)
        self._bill(line, now, "commit_invoice", msg.cause, revenue, f"commit_invoice:{self.id}:{spec.id}:{now}")
        return _NONE

    def on_expire(self, msg: Expire, now: int) -> list[Timer]:
        """End a grant at its end: roll over what the rules allow, book the rest as breakage."""
        g = self.grants.get(msg.grant)
        if g is None or not g.active:
            return []
        timers: list[Timer] = []
        left = g.remaining
        spec = self._recurring_spec(g.recurring)
        departed = g.seat is not None and not (g.seat in self.seats and self.seats[g.seat].assigned)
        if spec is not None and spec.rollover is not None and left > 0 and now < self.horizon and not departed:
            period_grant = self.recurring_amounts.get((spec.id, g.seat), g.granted)
            # The cap is a share of what the period granted, rounded like any credit grant.
            unit = self.catalog.units[g.unit]
            cap = round_to_display(Fraction(spec.rollover) * Fraction(period_grant, 10**unit.scale),
                                   unit.scale, unit.decimals)
            carry = min(left, cap)
            if carry > 0:
                end = next_month(now)
                new = Grant(id=f"{g.id}/rollover", owner=self.id, unit=g.unit, amount=carry,
                            priority=g.priority, paid=g.paid, products=g.products, start=now,
                            end=end, seat=g.seat, rollover=True)
                g.remaining -= carry
                self._fund(new, g.account, now, msg.cause, "rollover")
                timers.append(Timer(end, PHASE_EXPIRE, self.id, Expire(grant=new.id, cause=msg.cause)))
        self._retire(g, now, msg.cause, "expiry")
        return timers

    def _recurring_spec(self, rc_id: str | None) -> RecurringSpec | None:
        if rc_id is None:
            return None
        for rc in self.contract.recurring:
            if rc.id == rc_id:
                return rc
        return None

    def _retire(self, g: Grant, now: int, cause: str, kind: str) -> None:
        """End a grant now: what is left is breakage (a postpaid commit is trued up)."""
        left = g.remaining
        legs = [(g.account, left), (self.chart.breakage(g.unit), -left)]
        if left and g.commit_type == "postpaid" and g.unit == self.catalog.currency.id:
            line = Line(kind="commit_true_up", description=f"Commit {g.id} true-up", units=left)
            self._bill(line, now, "commit_true_up", cause,
                       self.chart.commit_contract(self.id, g.id), f"true_up:{self.id}:{g.id}")
        self.book.post(f"{kind}:{self.id}:{g.id}", now, kind, cause, legs)
        if left:
            key = (g.unit, self.period_key(now - 1))
            self.breakage[key] = self.breakage.get(key, 0) + left
        g.remaining = 0
        g.active = False
        if g.seat is not None:
            seat = self.seats.get(g.seat)
            if seat is not None and g in seat.grants:
                seat.drop(g)
        else:
            self.pool(g.unit).drop(g)

    def on_buy_credits(self, msg: BuyCredits, now: int) -> list[Timer]:
        """Grant an add-on pack and invoice its price in this period."""
        unit = self.catalog.units[msg.unit]
        g = Grant(id=msg.id, owner=self.id, unit=msg.unit, amount=to_units(msg.amount, unit.scale),
                  priority=msg.priority, paid=msg.price > 0, products=msg.products, start=now, end=msg.end)
        require(msg.id not in self.grants, f"grant id {msg.id!r} already used for {self.id}")
        self._fund(g, self.chart.issued(msg.unit), now, msg.cause, "credit_purchase")
        units = to_units(msg.price, self.catalog.currency.scale)
        line = Line(kind="credit_purchase", units=units,
                    description=f"{msg.amount} {msg.unit} credits", quantity=str(msg.amount))
        self._bill(line, now, "credit_purchase_invoice", msg.cause, self.chart.credit_packs(),
                   f"purchase:{self.id}:{msg.id}")
        if g.end < FOREVER:
            return [Timer(g.end, PHASE_EXPIRE, self.id, Expire(grant=g.id, cause=msg.cause))]
        return []

    # -- seats and quantities -------------------------------------------------------------
    def _seat_spec(self, sub_id: str) -> SubscriptionSpec:
        for sub in self.contract.subscriptions:
            if sub.id == sub_id:
                return sub
        raise CommandError(f"customer {self.id} has no subscription {sub_id!r}")

    def on_add_seats(self, msg: AddSeats, now: int) -> list[Timer]:
        """Assign seats; charge and grant for any increase above what this period paid."""
        sub = self._seat_spec(msg.subscription)
        require(sub.seat_based, f"subscription {sub.id!r} is not seat-based")
        assigned = self.assigned[sub.id]
        for seat in msg.seats:
            require(seat not in assigned, f"seat {seat!r} is already assigned on {sub.id!r}")
        fresh = []
        for seat in msg.seats:
            assigned.append(seat)
            known = self.seats.get(seat)
            if known is None:
                self.seats[seat] = Seat(self.id, sub.id, seat)
                fresh.append(seat)
            else:
                known.assigned = True
        return self._increase(sub.id, now, msg.cause, fresh)

    def on_remove_seats(self, msg: RemoveSeats, now: int) -> tuple:
        """Unassign seats; the decrease takes effect at the next period."""
        sub = self._seat_spec(msg.subscription)
        require(sub.seat_based, f"subscription {sub.id!r} is not seat-based")
        assigned = self.assigned[sub.id]
        for seat in msg.seats:
            require(seat in assigned, f"seat {seat!r} is not assigned on {sub.id!r}")
        for seat in msg.seats:
            assigned.remove(seat)
            # Decreases take effect next period: the seat keeps its allocation until then.
            self.seats[seat].assigned = False
        return _NONE

    def on_set_quantity(self, msg: SetQuantity, now: int) -> list[Timer]:
        """Change a quantity subscription; increases are prorated, decreases wait."""
        sub = self._seat_spec(msg.subscription)
        require(not sub.seat_based, f"subscription {sub.id!r} is seat-based: use add_seats")
        require(msg.quantity >= 0, "quantity must not be negative")
        self.quantity[sub.id] = msg.quantity
        return self._increase(sub.id, now, msg.cause, [])

    def _increase(self, sub_id: str, now: int, cause: str, fresh: list[str]) -> list[Timer]:
        """Charge and grant for quantity above the most already paid this period (rule 2)."""
        qty = self._sub_quantity(sub_id)
        extra = qty - self.paid_max.get(sub_id, 0)
        if extra <= 0:
            return []
        self.paid_max[sub_id] = qty
        fraction = Fraction(self.period_end - now, self.period_end - month_start(now))
        self._charge_subscription(sub_id, extra, fraction, now, cause, "increase")
        linked = tuple(rc for rc in self.contract.recurring if rc.per_seat_of == sub_id)
        pooled = tuple(rc for rc in linked if rc.allocation == "pooled")
        individual = tuple(rc for rc in linked if rc.allocation == "individual")
        timers = self._grant_recurring(pooled, now, self.period_end, fraction, cause, None, extra)
        # Allowance follows payment: only seats new this period, up to the paid increase.
        timers += self._grant_recurring(individual, now, self.period_end, fraction, cause, fresh[:extra])
        return timers

    # -- packages and hierarchy -------------------------------------------------------------
    def on_change_package(self, msg: ChangePackage, now: int) -> list[Timer]:
        """Move to another package (or version) mid-period, prorated (rule 2)."""
        old = self.contract
        require(msg.migrate or msg.contract.package != old.package,
                f"customer {self.id} is already on package {old.package!r}")
        require(now >= self.start, f"customer {self.id} starts later")
        fraction = Fraction(self.period_end - now, self.period_end - month_start(now))
        for sub in old.subscriptions:
            # A change at the period's very start refunds even a charge that was not prorated.
            if (sub.proration or now == self.period_start) and self.paid_max.get(sub.id, 0) > 0:
                self._charge_subscription(sub.id, self.paid_max[sub.id], fraction, now, msg.cause, "credit")
        for g in list(self.grants.values()):
            if g.active and (g.recurring is not None or g.rollover):
                self._retire(g, now, msg.cause, "forfeit")
        seats = next((self.assigned[s.id] for s in old.subscriptions if s.seat_based), [])
        self.assigned = {}
        self.quantity = {}
        self._install(msg.contract, tuple(seats))
        self.package_history.append((now, msg.contract.package, msg.contract.version))
        timers: list[Timer] = []
        if now == self.period_start:
            self.paid_max = {}
        for sub in self.contract.subscriptions:
            qty = self._sub_quantity(sub.id)
            self.paid_max[sub.id] = qty
            self._charge_subscription(sub.id, qty, fraction, now, msg.cause, "subscription")
        timers += self._grant_recurring(self.contract.recurring, now, self.period_end, fraction, msg.cause, None)
        for spec in self.contract.grants:
            if spec.id not in self.specs:
                timers += self._schedule_grant(spec, now, msg.cause)
        return timers

    # -- usage ----------------------------------------------------------------------------
    def on_usage(self, msg: Usage, now: int) -> tuple:
        """Rate one event on every product it feeds, draw grants, book the rest (rules 4-5)."""
        products = self.catalog.by_event_type.get(msg.event_type)
        if not products:
            return _NONE
        props = msg.properties
        rated: list = []
        try:
            self._rate_all(msg, products, props, now, rated)
        except CommandError:
            _give_back(rated)  # refused whole: earlier products of this event took tentatively
            raise
        block = self.contract.on_exhausted == "block"
        unpriced = [r for r in rated if r[7] and not block and self.catalog.units[r[1]].fiat_per_credit is None
                    and not self.catalog.units[r[1]].is_currency]
        if unpriced or (block and any(r[7] for r in rated)):
            # Rule 5: an event that cannot be covered in full is denied whole.
            _give_back(rated)
            require(not unpriced, f"usage {msg.id}: credit type {unpriced[0][1] if unpriced else ''!r} has no "
                                  "fiat_per_credit, so its overage cannot be billed")
            self.denied += 1
            self.denied_ids.append(msg.id)
            return _NONE
        for product, unit, agg, qty, after, charge, takes, left in rated:
            agg.commit(qty, after)
            if charge > 0:
                self._book_usage(msg, product.id, product.name, unit, charge, takes, left, now)
        return _NONE

    def _rate_all(self, msg: Usage, products: list, props: dict, now: int, rated: list) -> None:
        """Rate the event on each product it feeds, taking grants tentatively (into `rated`)."""
        for product in products:
            metric = product.metric
            if metric.filters and not metric.matches(props):  # type: ignore[union-attr]
                continue
            qty = event_quantity(metric, props)  # type: ignore[arg-type]
            if qty is None:
                continue
            # A negative quantity would lower the period's aggregate and get re-billed later;
            # corrections are credits, not negative usage.
            require(type(qty) is str or qty >= 0,
                    f"usage {msg.id}: {metric.property} is negative ({qty}); send a correction as a credit")
            price = self.price(product.id, now)
            if price is None:
                continue
            agg = self.aggs.get(product.id)
            if agg is None:
                agg = self.aggs[product.id] = Aggregate(metric.aggregation)  # type: ignore[union-attr]
            after = agg.after(qty)
            charge = charge_units(price, agg.value, after, price.scale)
            takes, left = plan(self._candidates(price.unit, product.id, now, props), charge) if charge > 0 else ([], 0)
            # Take tentatively, so a second product of the same event sees what is left.
            for g, take in takes:
                g.remaining -= take
            rated.append((product, price.unit, agg, qty, after, charge, takes, left))

    def _candidates(self, unit: str, product: str, now: int, props: dict) -> list:
        """Grants that may pay, in drawdown order: the event's seat allocation first, then
        pooled grants of this customer and of ancestors that admit it (rule 4)."""
        if not self.seat_keys and self.parent is None:
            pool = self.pools.get(unit)
            if pool is None or not pool.grants:
                return []
            if len(pool.grants) == 1:
                g = pool.grants[0]
                return [g] if usable(g, product, now) else []
            return ordered([(0, pool.grants)], product, now)
        out: list = []
        for key in self.seat_keys:
            seat_id = props.get(key)
            if seat_id is not None:
                seat = self.seats.get(str(seat_id))
                if seat is not None and seat.grants:
                    out.extend(ordered([(0, seat.of_unit(unit))], product, now))
        pool = self.pools.get(unit)
        groups: list = [(0, pool.grants)] if pool is not None and pool.grants else []
        if self.parent is not None:
            distance = 0
            for ancestor in self.ancestors():
                distance += 1
                apool = ancestor.pools.get(unit)
                if apool is not None and apool.shared:
                    groups.append((distance, [g for g in apool.shared if g.admits(self.id)]))
        if groups:
            out.extend(ordered(groups, product, now))
        return out

    def _book_usage(self, msg: Usage, product: str, name: str, unit: str, charge: int,
                    takes: list, left: int, now: int) -> None:
        """Book one rated charge whose takes were already deducted from their grants."""
        chart = self.chart
        currency = self.catalog.currency.id
        payer = self.payer_of()
        unbilled = chart.unbilled(payer.id)
        rev = self._revenue.get((product, unit))
        if rev is None:
            rev = self._revenue[(product, unit)] = chart.revenue(product, unit)
        legs = [(rev, -charge)]
        postpaid = 0
        for g, take in takes:
            legs.append((g.account, take))
            if g.owner != self.id:
                g.draws[self.id] = g.draws.get(self.id, 0) + take
                next(a for a in self.ancestors() if a.id == g.owner).rollup.drawn(now, g.id, self.id, take)
            if g.commit_type == "postpaid":
                postpaid += take
                legs += [(unbilled, take), (chart.commit_contract(g.owner, g.id), -take)]
        billed = 0
        if left:
            if unit == currency:
                billed = left
                legs.append((unbilled, left))
            else:
                billed = self.catalog.fiat_units(unit, left)
                legs += [(chart.overage(unit), left), (unbilled, billed),
                         (chart.revenue(product, currency), -billed)]
        invoice = payer.invoice
        invariant(invoice is not None, f"{payer.id} has no open invoice")
        line = invoice.usage.get((product, self.id))  # type: ignore[union-attr]
        if line is None:
            line = invoice.usage_line(product, name, self.id, payer is self)  # type: ignore[union-attr]
            line.unit = unit
        if billed or postpaid:
            line.units += billed + postpaid
            pkg = self.contract.package or ""
            line.by_package[pkg] = line.by_package.get(pkg, 0) + billed + postpaid
        if line.unit == unit:
            line.gross_units += charge
            line.credits_units += charge - left - postpaid
        self.book.post(f"{msg.cause}:{product}", now, "usage", msg.cause, legs)
        if unit == currency:
            usage = self.rollup.usage
            key = self.period_start if now >= self.period_start else self.period_key(now)
            usage[key] = usage.get(key, 0) + charge
            if self.parent is not None:
                roll = Rollup(source=self.id, at_us=now, usage_units=charge)
                for ancestor in self.ancestors():
                    ancestor.rollup.handle(roll)


def _give_back(rated: list) -> None:
    """Undo the tentative takes of a rated event that will not be booked."""
    for r in rated:
        for g, take in r[6]:
            g.remaining += take
