"""Grants held by one actor (a CreditPool or a Seat): ranking, holds, draws and retirement,
and the message protocol both actors speak (GrantHolder).

Holdings is plain state, not an actor: the CreditPool and the Seat each own one and are the
only ones to touch it. Amounts are integers at the unit's ledger scale."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any, ClassVar

from meterbook.actors.accounts import Chart
from meterbook.actors.drawdown import base_key, in_order, own_rank, plan
from meterbook.actors.errors import CommandError, require
from meterbook.actors.messages import (
    Commit,
    Drawn,
    DrawnTake,
    Forfeited,
    ForfeitRecurring,
    Fund,
    GrantTerms,
    Held,
    Msg,
    Offer,
    Offered,
    Quote,
    Release,
    Reserve,
    Retire,
    Retired,
    Take,
)
from meterbook.errors import invariant
from meterbook.ledger import Book


class Grant:
    """A commit or credit as its holder keeps it: terms, what is left, its rank."""

    __slots__ = ("draws", "end", "id", "key", "products", "remaining", "start", "terms")

    def __init__(self, terms: GrantTerms) -> None:
        self.terms = terms
        self.remaining = terms.units
        # Copies of the terms the drawdown order reads per event (plain slots are the cheapest read).
        self.id = terms.id
        self.start = terms.start
        self.end = terms.end
        self.products = terms.products
        # Rule 4 before the hierarchy tie-breaks (owner distance, then grant id).
        self.key = base_key(terms.priority, terms.rollover, terms.paid, terms.products, terms.end, terms.start)
        self.draws: dict[str, int] = {}  # by descendant, for shared grants

    def admits(self, customer: str) -> bool:
        """Whether `customer` may draw it: the owner always; a descendant per child_access."""
        access = self.terms.child_access
        if customer == self.terms.owner:
            return True
        return access == "all" or (not isinstance(access, str) and customer in access)


class Holdings:
    """The grants one actor holds, the holds placed on them, and their ledger effects."""

    def __init__(self, owner: str, chart: Chart, book: Book) -> None:
        self.owner = owner
        self.chart = chart
        self.book = book
        self.grants: dict[str, Grant] = {}
        self.active: list[Grant] = []  # funded, not retired, in funding order
        self.by_unit: dict[str, list[Grant]] = {}  # the same, per unit (what a draw looks at)
        self.holds: dict[str, list[tuple[Grant, int]]] = {}

    def fund(self, terms: GrantTerms) -> None:
        """Hold a newly funded grant (its funding is booked by whoever granted it)."""
        require(terms.id not in self.grants, f"grant id {terms.id!r} already used for {self.owner}")
        g = Grant(terms)
        self.grants[terms.id] = g
        self.active.append(g)
        # Kept in rank order, so a draw filters and never sorts.
        bisect.insort(self.by_unit.setdefault(terms.unit, []), g, key=own_rank)

    def ranked(self, unit: str, product: str, at_us: int, requester: str) -> list[Grant]:
        """Usable grants of `unit` that `requester` may draw, in rule-4 order."""
        mine = self.by_unit.get(unit, [])
        if requester != self.owner:
            mine = [g for g in mine if g.admits(requester)]
        return in_order(mine, product, at_us)

    def offer(self, unit: str, product: str, at_us: int, requester: str) -> tuple[Offered, ...]:
        """A read-only quote: what each usable grant could give, with its rank."""
        return tuple(Offered(g.key, g.terms.id, g.remaining) for g in self.ranked(unit, product, at_us, requester))

    def reserve(self, hold: str, unit: str, product: str, at_us: int, units: int, requester: str) -> int:
        """Set aside up to `units` in rule-4 order; returns what was set aside."""
        takes, left = plan(self.ranked(unit, product, at_us, requester), units)
        for g, take in takes:
            g.remaining -= take
        self._hold(hold, takes)
        return units - left

    def settle(self, unit: str, product: str, at_us: int, units: int, requester: str,
               all_or_nothing: bool) -> tuple[DrawnTake, ...]:
        """Reserve and commit in one step (a single holder covering a single charge)."""
        takes, left = plan(self.ranked(unit, product, at_us, requester), units)
        if left and all_or_nothing:
            return ()
        for g, take in takes:
            g.remaining -= take
        return tuple(_drawn(g, take) for g, take in takes)

    def take(self, hold: str, plan: tuple[tuple[str, int], ...]) -> int:
        """Set aside exactly the planned amounts (checked: never below zero)."""
        takes = []
        for grant_id, units in plan:
            g = self.grants[grant_id]
            invariant(0 < units <= g.remaining, f"{self.owner}: take {units} of {grant_id} leaving {g.remaining}")
            g.remaining -= units
            takes.append((g, units))
        self._hold(hold, takes)
        return sum(units for _, units in takes)

    def _hold(self, hold: str, takes: list[tuple[Grant, int]]) -> None:
        invariant(hold not in self.holds, f"{self.owner}: hold {hold} placed twice")
        self.holds[hold] = takes

    def commit(self, hold: str, requester: str) -> tuple[DrawnTake, ...]:
        """Make a hold final; what it drew, grant by grant, for the requester's posting."""
        out = []
        for g, units in self.holds.pop(hold, ()):
            t = g.terms
            if requester != t.owner:
                g.draws[requester] = g.draws.get(requester, 0) + units
            out.append(_drawn(g, units))
        return tuple(out)

    def release(self, hold: str) -> None:
        """Give a hold back."""
        for g, units in self.holds.pop(hold, ()):
            g.remaining += units

    def retire(self, grant_id: str, kind: str, carry_cap: int, carry_span: tuple[int, int], now: int, cause: str,
               currency: str) -> Retired | None:
        """End a grant now: roll over up to `carry_cap` into a grant for `carry_span` (start,
        end), book the rest as breakage (a postpaid commit in the currency is trued up instead:
        its caller bills the line)."""
        g = self.grants.get(grant_id)
        if g is None or g not in self.active:
            return None
        t = g.terms
        rolled = None
        carry = min(g.remaining, carry_cap)
        if carry > 0:
            rolled = f"{t.id}/rollover"
            account = self.chart.grant(t.owner, rolled, t.unit)
            self.book.post(f"rollover:{t.owner}:{t.id}", now, "rollover", cause,
                           [(t.account, carry), (account, -carry)])
            g.remaining -= carry
            self.fund(GrantTerms(id=rolled, owner=t.owner, unit=t.unit, units=carry, priority=t.priority,
                                 paid=t.paid, products=t.products, start=carry_span[0], end=carry_span[1],
                                 account=account,
                                 rollover=True, recurring=None))
        left = g.remaining
        true_up = left if left and t.commit_type == "postpaid" and t.unit == currency else 0
        self.book.post(f"{kind}:{t.owner}:{t.id}", now, kind, cause,
                       [(t.account, left), (self.chart.breakage(t.unit), -left)])
        g.remaining = 0
        self.active.remove(g)
        self.by_unit[t.unit].remove(g)
        return Retired(unit=t.unit, breakage=left, rolled=rolled, true_up=true_up)

    def forfeit_recurring(self, now: int, cause: str, currency: str) -> tuple[Retired, ...]:
        """Retire every recurring or rolled-over grant still running (a package change forfeits
        them); one that has ended and waits for its expiry (Live time's grace) is left to it."""
        out = []
        for g in [g for g in self.active if (g.terms.recurring is not None or g.terms.rollover) and g.end > now]:
            retired = self.retire(g.terms.id, "forfeit", 0, (0, 0), now, cause, currency)
            if retired is not None:
                out.append(retired)
        return tuple(out)




def _drawn(g: Grant, units: int) -> DrawnTake:
    """One grant's part of a draw, as its requester books it."""
    t = g.terms
    return DrawnTake(grant=t.id, owner=t.owner, account=t.account, units=units, postpaid=t.commit_type == "postpaid")

class GrantHolder:
    """The message protocol of an actor that holds grants (a CreditPool, a Seat): one handler
    per message kind, over its own Holdings."""

    address: str
    currency: str
    holdings: Holdings

    _HANDLERS: ClassVar[dict[type[Msg], str]] = {
        Reserve: "_reserve", Commit: "_commit", Quote: "_quote", Take: "_take", Release: "_release",
        Fund: "_fund", Retire: "_retire", ForfeitRecurring: "_forfeit",
    }
    _table: ClassVar[dict[type[Msg], Callable[[Any, Any, int], Any]]]

    def __init_subclass__(cls) -> None:
        # One dispatch table per class, built once (a subclass may override a handler).
        cls._table = {kind: getattr(cls, name) for kind, name in GrantHolder._HANDLERS.items()}

    def handle(self, msg: Msg, now: int) -> Any:
        """Apply one message; answers Offer, Held, Drawn, Retired or Forfeited."""
        try:
            handler = self._table[type(msg)]
        except KeyError:
            raise CommandError(f"{self.address} cannot handle {type(msg).__name__}") from None
        return handler(self, msg, now)

    def _reserve(self, msg: Reserve, now: int) -> Held | Drawn:
        h = self.holdings
        if msg.settle != "hold":
            return Drawn(h.settle(msg.unit, msg.product, msg.at_us, msg.units, msg.requester,
                                  msg.settle == "commit_if_full"))
        return Held(h.reserve(msg.hold, msg.unit, msg.product, msg.at_us, msg.units, msg.requester))

    def _commit(self, msg: Commit, now: int) -> Drawn:
        return Drawn(self.holdings.commit(msg.hold, msg.requester))

    def _quote(self, msg: Quote, now: int) -> Offer:
        return Offer(self.address, self.holdings.offer(msg.unit, msg.product, msg.at_us, msg.requester))

    def _take(self, msg: Take, now: int) -> Held:
        return Held(self.holdings.take(msg.hold, msg.takes))

    def _release(self, msg: Release, now: int) -> None:
        self.holdings.release(msg.hold)

    def _fund(self, msg: Fund, now: int) -> None:
        self.holdings.fund(msg.grant)

    def _retire(self, msg: Retire, now: int) -> Retired | None:
        return self.holdings.retire(msg.grant, msg.kind, msg.carry_cap, (msg.carry_start, msg.carry_end), now,
                                    msg.cause, self.currency)

    def _forfeit(self, msg: ForfeitRecurring, now: int) -> Forfeited:
        return Forfeited(self.holdings.forfeit_recurring(now, msg.cause, self.currency))
