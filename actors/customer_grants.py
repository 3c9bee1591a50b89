"""The Customer actor, grants: contract credits and commits (activation, invoice schedules),
recurring credits, add-on purchases, expiry with rollover and breakage (rule 6)."""

from __future__ import annotations

from fractions import Fraction

from meterbook.actors.catalog import FOREVER, GrantSpec, RecurringSpec, SubscriptionSpec
from meterbook.actors.customer_state import CustomerState
from meterbook.actors.errors import require
from meterbook.actors.invoice import Line
from meterbook.actors.mailbox import seat_address
from meterbook.actors.messages import (
    Activate,
    BuyCredits,
    Expire,
    Fund,
    GrantTerms,
    InvoiceItem,
    Phase,
    Retire,
    Retired,
)
from meterbook.actors.money import in_range, round_to_display, to_units
from meterbook.actors.periods import date_label, next_month


class GrantsMixin(CustomerState):
    """Everything that creates or ends a grant of this customer."""

    def schedule_grant(self, spec: GrantSpec, now: int, cause: str) -> None:
        """Ask for the grant's activation and its invoice items on the clock."""
        self.specs[spec.id] = spec
        self.mail.later(max(spec.start, now), Phase.ACTIVATE, self.id, Activate(grant=spec.id, cause=cause))
        for index, (at_us, amount) in enumerate(spec.invoice):
            self.mail.later(max(at_us, now), Phase.ACTIVATE, self.id,
                            InvoiceItem(grant=spec.id, index=index, amount=amount, cause=cause))

    def on_activate(self, msg: Activate, now: int) -> None:
        """Fund a contract grant (credit or commit) at its start."""
        spec = self.specs[msg.grant]
        scale = self.catalog.units[spec.unit].scale
        units = in_range(to_units(spec.amount, scale), scale, f"the amount of grant {spec.id!r}")
        paid = spec.kind == "commit"
        terms = GrantTerms(id=spec.id, owner=self.id, unit=spec.unit, units=units, priority=spec.priority, paid=paid,
                           products=spec.products, start=spec.start, end=spec.end,
                           account=self.chart.grant(self.id, spec.id, spec.unit), child_access=spec.child_access,
                           commit_type=spec.commit_type)
        if not paid:
            legs, kind = [(self.chart.promotional(spec.unit), units)], "credit_grant"
        elif spec.unit != self.catalog.currency.id:
            legs, kind = [(self.chart.issued(spec.unit), units)], "commit_grant"
        else:
            billed = units
            if spec.commit_type == "prepaid":
                billed = in_range(sum(to_units(a, scale) for _, a in spec.invoice), scale,
                                  f"the invoice schedule of commit {spec.id!r}")
                in_range(units - billed, scale, f"the part of commit {spec.id!r} its schedule does not bill")
            legs = [(self.chart.commit_contract(self.id, spec.id), billed), (self.chart.commit_discount(), units - billed)]
            kind = "commit_grant"
        self._fund_at(terms, legs, kind, msg.cause, self.pool(spec.unit), now)

    def _fund_at(self, terms: GrantTerms, legs: list[tuple[int, int]], kind: str, cause: str, holder: str,
                 now: int) -> None:
        require(terms.id not in self.holders, f"grant id {terms.id!r} already used for {self.id}")
        self.book.post(f"grant:{self.id}:{terms.id}", now, kind, cause, [*legs, (terms.account, -terms.units)])
        self.holders[terms.id] = holder
        self.mail.ask(holder, Fund(grant=terms, cause=cause))
        if terms.end < FOREVER:
            # Booked once late usage can no longer draw it (Live time: end + grace).
            self.mail.later(self.settles_at(terms.end), Phase.EXPIRE, self.id,
                            Expire(grant=terms.id, end=terms.end, cause=cause))

    def on_invoice_item(self, msg: InvoiceItem, now: int) -> None:
        """Bill one item of a commit's invoice schedule."""
        spec = self.specs[msg.grant]
        units = in_range(to_units(msg.amount, self.catalog.currency.scale), self.catalog.currency.scale,
                         f"invoice item {msg.index} of commit {spec.id!r}")
        revenue = (self.chart.commit_contract(self.id, spec.id)
                   if spec.unit == self.catalog.currency.id else self.chart.credit_packs())
        line = Line(kind="commit_invoice", description=f"Commit {spec.id} ({spec.commit_type})", units=units)
        self.bill(line, now, "commit_invoice", msg.cause, revenue, f"commit_invoice:{self.id}:{spec.id}:{msg.index}")

    def grant_recurring(self, specs: tuple[RecurringSpec, ...], now: int, end: int, fraction: Fraction, cause: str,
                        only: list[str] | None, count: int | None = None) -> None:
        """Grant recurring credits for [now, end): `only` names seats for individual
        allocations; `count` is the seat count for pooled ones (default: all assigned)."""
        for rc in specs:
            unit = self.catalog.units[rc.unit]
            targets = self._recurring_targets(rc, only, count)
            share_units = self.recurring_share(rc, fraction, self.contract.subscriptions)
            for seat, shares in targets:
                units = in_range(share_units * shares, unit.scale, f"recurring credit {rc.id!r}")
                gid = f"{rc.id}/{seat}/{date_label(now)}" if seat else f"{rc.id}/{date_label(now)}"
                if gid in self.holders:
                    gid = f"{gid}+{self.next_id()}"
                key = (rc.id, seat)
                base = 0 if now == self.period_start else self.recurring_amounts.get(key, 0)
                self.recurring_amounts[key] = base + units
                self.recurring_grants[gid] = key
                terms = GrantTerms(id=gid, owner=self.id, unit=rc.unit, units=units, priority=rc.priority, paid=False,
                                   products=rc.products, start=now, end=end,
                                   account=self.chart.grant(self.id, gid, rc.unit), recurring=rc.id)
                holder = seat_address(self.id, seat) if seat else self.pool(rc.unit)
                self._fund_at(terms, [(self.chart.promotional(rc.unit), units)], "recurring_grant", cause, holder, now)

    def recurring_share(self, rc: RecurringSpec, fraction: Fraction, subscriptions: tuple[SubscriptionSpec, ...]) -> int:
        """What one share of a recurring credit grants for `fraction` of the period, at its
        unit's ledger scale. Each share is rounded on its own (every paid seat adds the same
        amount); credits tied to seats follow their subscription: not prorated when it is not."""
        unit = self.catalog.units[rc.unit]
        linked = next((s for s in subscriptions if s.id == rc.per_seat_of), None)
        share = Fraction(1) if linked is not None and not linked.proration else fraction
        return round_to_display(Fraction(rc.amount) * share, unit.scale, unit.decimals)

    def _recurring_targets(self, rc: RecurringSpec, only: list[str] | None,
                           count: int | None) -> list[tuple[str | None, int]]:
        """Who receives a recurring credit: (seat, or None for the pool; how many shares)."""
        if rc.per_seat_of is None:
            return [] if only is not None or count is not None else [(None, 1)]
        if rc.allocation == "pooled":
            n = len(self.assigned.get(rc.per_seat_of, ())) if count is None else count
            return [(None, n)] if n else []
        seats = self.assigned.get(rc.per_seat_of, []) if only is None else only
        return [(seat, 1) for seat in seats]

    def on_buy_credits(self, msg: BuyCredits, now: int) -> None:
        """Grant an add-on pack and invoice its price in this period."""
        require(msg.id not in self.holders, f"grant id {msg.id!r} already used for {self.id}")
        require(msg.end > now, f"buy_credits {msg.id!r}: its end must be after the purchase")
        unit = self.catalog.units[msg.unit]
        currency = self.catalog.currency
        units = in_range(to_units(msg.amount, unit.scale), unit.scale, f"buy_credits {msg.id!r} amount")
        price = in_range(to_units(msg.price, currency.scale), currency.scale, f"buy_credits {msg.id!r} price")
        terms = GrantTerms(id=msg.id, owner=self.id, unit=msg.unit, units=units, priority=msg.priority,
                           paid=msg.price > 0, products=msg.products, start=now, end=msg.end,
                           account=self.chart.grant(self.id, msg.id, msg.unit))
        self._fund_at(terms, [(self.chart.issued(msg.unit), units)], "credit_purchase", msg.cause,
                      self.pool(msg.unit), now)
        line = Line(kind="credit_purchase", units=price,
                    description=f"{msg.amount} {msg.unit} credits", quantity=str(msg.amount))
        self.bill(line, now, "credit_purchase_invoice", msg.cause, self.chart.credit_packs(),
                  f"purchase:{self.id}:{msg.id}")

    def on_expire(self, msg: Expire, now: int) -> None:
        """Settle a grant that ended at `msg.end` (now, or a grace ago): roll over what the
        rules allow into the next period, book the rest as breakage of the period it ended in."""
        holder = self.holders.get(msg.grant)
        if holder is None:
            return
        cap, carry_end = self._rollover_cap(msg.grant, msg.end), next_month(msg.end)
        retired = self.mail.ask(holder, Retire(grant=msg.grant, kind="expiry", carry_cap=cap, carry_start=msg.end,
                                               carry_end=carry_end, cause=msg.cause))
        if isinstance(retired, Retired):
            self.note_retired(msg.grant, retired, holder, now, msg.cause, ended=msg.end)
            if retired.rolled is not None:
                self.holders[retired.rolled] = holder
                self.mail.later(self.settles_at(carry_end), Phase.EXPIRE, self.id,
                                Expire(grant=retired.rolled, end=carry_end, cause=msg.cause))

    def _rollover_cap(self, grant: str, end: int) -> int:
        """How much of a recurring grant that ended at `end` may roll over: f x what its
        period granted (per seat for individual allocations), rounded like any credit grant;
        0 otherwise (and at the run's end)."""
        spec, seat = self._recurring_of(grant)
        if spec is None or spec.rollover is None or end >= self.horizon:
            return 0
        # The ended period's figures: kept while it waits out its grace (Live time), else current.
        settling = self.in_grace(end - 1)
        if seat is not None:
            departed = seat in settling.retiring if settling is not None else not self.seats.get(seat, False)
            if departed:
                return 0  # a departed seat rolls nothing into a period it no longer belongs to
        unit = self.catalog.units[spec.unit]
        amounts = settling.recurring_amounts if settling is not None else self.recurring_amounts
        period_grant = amounts.get((spec.id, seat), 0)
        return round_to_display(Fraction(spec.rollover) * Fraction(period_grant, 10**unit.scale),
                                unit.scale, unit.decimals)

    def _recurring_of(self, grant: str) -> tuple[RecurringSpec | None, str | None]:
        """The recurring credit of the contract in force a grant came from, and its seat."""
        origin = self.recurring_grants.get(grant)
        if origin is None:
            return None, None
        rc_id, seat = origin
        return next((rc for rc in self.contract.recurring if rc.id == rc_id), None), seat

    def note_retired(self, grant: str, retired: Retired, holder: str, now: int, cause: str,
                     ended: int | None = None) -> None:
        """Record breakage in the period the grant ended in (`ended`, default now: a forfeit),
        and bill a postpaid commit's true-up on that period's invoice (booked now)."""
        end = now if ended is None else ended
        if retired.breakage:
            key = (retired.unit, self.period_key(end - 1))
            self.breakage[key] = self.breakage.get(key, 0) + retired.breakage
        if retired.true_up:
            line = Line(kind="commit_true_up", description=f"Commit {grant} true-up", units=retired.true_up)
            self.bill(line, now, "commit_true_up", cause, self.chart.commit_contract(self.id, grant),
                      f"true_up:{self.id}:{grant}", period_at=end - 1)
