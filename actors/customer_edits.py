"""The Customer actor, contract edits: additions to the contract from an instant on
(`edit_contract`; docs/semantics.md, "Editing a contract").

An edit is checked whole against the customer's own state before anything changes, so a
refusal books nothing; then each addition starts the way the same part of a contract starts
mid-period: grants are scheduled (activation, invoice items), subscriptions pay the rest of
the period in advance, recurring credits grant the rest of the period, overrides pin prices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import msgspec

from meterbook.actors.catalog import Price, RateCard, SubscriptionSpec
from meterbook.actors.customer_seats import SeatsMixin
from meterbook.actors.errors import CommandError, require
from meterbook.actors.messages import EditContract
from meterbook.actors.money import in_range, to_units
from meterbook.actors.periods import fraction_left


@contextmanager
def naming(field: str) -> Iterator[None]:
    """Refusals raised inside name `field` of the input (unless they name a field already)."""
    try:
        yield
    except CommandError as exc:
        if exc.field != "$":
            raise
        raise CommandError(str(exc), field) from None


class EditsMixin(SeatsMixin):
    """Adds to the contract in force; a later package change replaces it, additions included."""

    def on_edit_contract(self, msg: EditContract, now: int) -> None:
        """Add grants, subscriptions, recurring credits and overrides from now on."""
        self._check_edit(msg, now)
        old = self.contract
        self._install(msgspec.structs.replace(
            old, overrides=old.overrides + msg.overrides, subscriptions=old.subscriptions + msg.subscriptions,
            grants=old.grants + msg.grants, recurring=old.recurring + msg.recurring), ())
        fraction = fraction_left(now)
        for sub in msg.subscriptions:
            qty = self.sub_quantity(sub.id)
            self.paid_max[sub.id] = qty
            priced_at, _ = self._first_price(self._overrides, sub.product, now)
            self.charge_subscription(sub.id, qty, fraction, now, msg.cause, "subscription", priced_at)
        self.grant_recurring(msg.recurring, now, self.period_end, fraction, msg.cause, None)
        for spec in msg.grants:
            self.schedule_grant(spec, now, msg.cause)

    def _first_price(self, overrides: RateCard, product: str, now: int) -> tuple[int, Price | None]:
        """When an added subscription's first charge is priced, and at what: the period's start,
        as every charge of the period is (rule 7), or `now` if the product had no price then
        (a product or rate created since)."""
        price = self.price_window(overrides, product, self.period_start)[0]
        if price is None:
            return now, self.price_window(overrides, product, now)[0]
        return self.period_start, price

    # -- checks: everything below raises before anything changes ------------------------------
    def _check_edit(self, msg: EditContract, now: int) -> None:
        """Refuse, naming the input's field, what the customer's state does not admit."""
        self._check_grants(msg)
        subs = self._check_subscriptions(msg, now)
        self._check_recurring(msg, subs, now)

    def _check_grants(self, msg: EditContract) -> None:
        """Grant ids are new to the customer (its contract's, purchases, recurring grants);
        amounts fit the ledger."""
        taken = set(self.specs) | set(self.holders)
        counts = {"credit": 0, "commit": 0}
        for spec in msg.grants:
            field = f"$.add_{spec.kind}s[{counts[spec.kind]}]"
            counts[spec.kind] += 1
            require(spec.id not in taken, f"customer {self.id} already has a grant {spec.id!r}", f"{field}.id")
            taken.add(spec.id)
            scale = self.catalog.units[spec.unit].scale
            with naming(f"{field}.amount"):
                in_range(to_units(spec.amount, scale), scale, f"the amount of grant {spec.id!r}")
            currency = self.catalog.currency.scale
            with naming(f"{field}.invoice"):
                in_range(sum(to_units(a, currency) for _, a in spec.invoice), currency,
                         f"the invoice schedule of commit {spec.id!r}")

    def _check_subscriptions(self, msg: EditContract, now: int) -> dict[str, SubscriptionSpec]:
        """Subscription ids are new to the contract, and each added one can be charged now;
        returns every subscription the edited contract will have."""
        subs = {sub.id: sub for sub in self.contract.subscriptions}
        overrides = self.overrides_card(self.contract.overrides + msg.overrides)
        fraction = fraction_left(now)
        for k, sub in enumerate(msg.subscriptions):
            field = f"$.add_subscriptions[{k}]"
            require(sub.id not in subs, f"customer {self.id} already has a subscription {sub.id!r}", f"{field}.id")
            subs[sub.id] = sub
            _, price = self._first_price(overrides, sub.product, now)
            with naming(f"{field}.product"):
                self.subscription_units(sub, 0 if sub.seat_based else sub.quantity, fraction, price)
        return subs

    def _check_recurring(self, msg: EditContract, subs: dict[str, SubscriptionSpec], now: int) -> None:
        """Recurring ids are new to the contract; one per seat follows a seat-based subscription
        of the edited contract; what it grants now fits the ledger."""
        known = {rc.id for rc in self.contract.recurring}
        fraction = fraction_left(now)
        everything = tuple(subs.values())
        for k, rc in enumerate(msg.recurring):
            field = f"$.add_recurring_credits[{k}]"
            require(rc.id not in known, f"customer {self.id} already has a recurring credit {rc.id!r}", f"{field}.id")
            known.add(rc.id)
            if rc.per_seat_of is not None:
                linked = subs.get(rc.per_seat_of)
                require(linked is not None and linked.seat_based,
                        f"customer {self.id} has no seat-based subscription {rc.per_seat_of!r}", f"{field}.per_seat_of")
            shares = max(1, len(self.assigned.get(rc.per_seat_of or "", ())))
            scale = self.catalog.units[rc.unit].scale
            with naming(f"{field}.amount"):
                in_range(self.recurring_share(rc, fraction, everything) * shares, scale, f"recurring credit {rc.id!r}")
