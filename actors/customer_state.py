"""The Customer actor's state and the plumbing its parts share: prices, billing, holders.

The Customer is one actor written in several modules, one job each (periods here and in
customer.py, grants, seats and quantities, usage); they share this state and nothing else.
Other actors (its CreditPools, Seats, ParentAccount, its payer) are reached by address only."""

from __future__ import annotations

from fractions import Fraction

from meterbook.actors.accounts import Chart
from meterbook.actors.catalog import Catalog, ContractSpec, GrantSpec, Price, RateCard, SubscriptionSpec
from meterbook.actors.errors import CommandError, require
from meterbook.actors.invoice import Invoice, Line
from meterbook.actors.mailbox import Mailbox, rollup_address, seat_address
from meterbook.actors.messages import Charge, Rollup
from meterbook.actors.money import round_to_display
from meterbook.actors.periods import next_month, period_of, settles_at
from meterbook.actors.rating import Aggregate
from meterbook.ledger import Book


class PriceWindow:
    """A cached price and the interval it stays in force, valid for one catalog version."""

    __slots__ = ("price", "since", "until", "version")

    def __init__(self, price: Price | None, since: int, until: int, version: int) -> None:
        self.price = price
        self.since = since
        self.until = until
        self.version = version


class GracePeriod:
    """A period that has ended but is not settled yet (Live time): until its end + grace, late
    usage stamped inside it is rated on its aggregates (its tier position) and billed on its
    invoice, a draft until then. It also remembers what settling needs: the recurring amounts
    it granted (the rollover cap) and the seats that left with it (retired once it settles)."""

    __slots__ = ("aggs", "end", "invoice", "recurring_amounts", "retiring", "start")

    def __init__(self, start: int, end: int, invoice: Invoice, aggs: dict[str, Aggregate],
                 recurring_amounts: dict[tuple[str, str | None], int]) -> None:
        self.start = start
        self.end = end
        self.invoice = invoice
        self.aggs = aggs
        self.recurring_amounts = recurring_amounts
        self.retiring: tuple[str, ...] = ()


class CustomerState:
    """State of one customer account and the helpers every part of the actor uses."""

    def __init__(
        self, *, id: str, name: str, contract: ContractSpec, start: int, catalog: Catalog,
        chart: Chart, book: Book, mail: Mailbox, horizon: int, seats: tuple[str, ...] = (), grace: int = 0,
    ) -> None:
        self.address = id
        self.id = id
        self.name = name
        self.start = start
        self.catalog = catalog
        self.chart = chart
        self.book = book
        self.mail = mail
        self.horizon = horizon
        self.grace = grace  # Live time: how long after its end a period (or grant) is settled, in us
        self.ancestors: tuple[str, ...] = ()
        self.payer = id
        self.assigned: dict[str, list[str]] = {}
        self.quantity: dict[str, int] = {}
        self.paid_max: dict[str, int] = {}
        self.seats: dict[str, bool] = {}  # seat id -> still assigned (a removed one stays to period end)
        self.holders: dict[str, str] = {}  # grant id -> address of the actor holding it
        self.pools: dict[str, str] = {}  # unit -> address of this customer's CreditPool of it
        self.specs: dict[str, GrantSpec] = {}
        self.recurring_amounts: dict[tuple[str, str | None], int] = {}
        self.recurring_grants: dict[str, tuple[str, str | None]] = {}  # grant id -> (recurring id, seat)
        self.invoices: list[Invoice] = []
        self.invoice: Invoice | None = None
        self.period_start = start
        self.period_end = next_month(start)
        self.aggs: dict[str, Aggregate] = {}
        self.previous: GracePeriod | None = None  # the period that ended and waits out its grace
        self.denied = 0
        self.denied_ids: list[str] = []
        self.breakage: dict[tuple[str, int], int] = {}
        self.own_usage: dict[int, int] = {}  # usage rated in the currency, by own period (roll-ups)
        self.own_spend: dict[int, int] = {}  # invoice totals, by own period
        self.package_history: list[tuple[int, str | None, int]] = []
        self._counter = 0
        self._revenue: dict[tuple[str, str], int] = {}
        self.contract = contract
        self._install(contract, seats)

    # -- contract -------------------------------------------------------------------------
    def _install(self, contract: ContractSpec, seats: tuple[str, ...]) -> None:
        self.contract = contract
        self._overrides = self.overrides_card(contract.overrides)
        self._prices: dict[str, PriceWindow] = {}
        self.seat_keys = tuple(sorted({rc.seat_key for rc in contract.recurring if rc.allocation == "individual"}))
        for sub in contract.subscriptions:
            if sub.seat_based:
                self.assigned.setdefault(sub.id, list(seats))
            else:
                self.quantity.setdefault(sub.id, sub.quantity)
        for seat in seats:
            self._seat(seat)

    def _seat(self, seat: str) -> None:
        """Mark a seat assigned, starting its actor on first use."""
        if seat not in self.seats:
            self.mail.spawn("seat", self.id, seat)
        self.seats[seat] = True

    def subscription(self, sub_id: str) -> SubscriptionSpec:
        """One subscription of the contract, or a refusal naming it."""
        for sub in self.contract.subscriptions:
            if sub.id == sub_id:
                return sub
        raise CommandError(f"customer {self.id} has no subscription {sub_id!r}")

    def next_id(self) -> int:
        """A counter for names that must stay unique within this customer."""
        self._counter += 1
        return self._counter

    def settles_at(self, end: int) -> int:
        """When what ends at `end` is settled (end + grace, capped at the run's end)."""
        return settles_at(end, self.grace)

    def period_key(self, at_us: int) -> int:
        """Start of this customer's period holding `at_us` (a first period may be short)."""
        return period_of(self.start, at_us)

    def price(self, product: str, at_us: int) -> Price | None:
        """The price in force: the contract's override pins it, else the rate card's."""
        cached = self._prices.get(product)
        version = self.catalog.version
        if cached is not None and cached.version == version and cached.since <= at_us < cached.until:
            return cached.price
        pinned, lo, hi = self.price_window(self._overrides, product, at_us)
        self._prices[product] = PriceWindow(pinned, lo, hi, version)
        return pinned

    def price_window(self, overrides: RateCard, product: str, at_us: int) -> tuple[Price | None, int, int]:
        """The price in force at `at_us` with these overrides (they pin it, else the contract's
        rate card prices it) and the interval it stays in force. Not cached: `price` is."""
        pinned, lo, hi = overrides.price_window(product, at_us)
        if pinned is None:
            card = self.catalog.rate_cards[self.contract.rate_card]
            pinned, card_lo, card_hi = card.price_window(product, at_us)
            lo, hi = max(lo, card_lo), min(hi, card_hi)
        return pinned, lo, hi

    def overrides_card(self, overrides: tuple[tuple[str, int, Price], ...]) -> RateCard:
        """A contract's overrides as a rate card of its own (each pins a price from its start)."""
        card = RateCard(f"{self.id}/overrides")
        for product, starting_at, price in overrides:
            card.set(product, starting_at, price)
        return card

    # -- grant holders --------------------------------------------------------------------
    def pool(self, unit: str) -> str:
        """Address of this customer's CreditPool of `unit`, started on first use."""
        address = self.pools.get(unit)
        if address is None:
            address = self.pools[unit] = self.mail.spawn("pool", self.id, unit)
        return address

    def holder_addresses(self) -> list[str]:
        """Every actor holding grants of this customer, in a fixed order."""
        return [self.pools[u] for u in sorted(self.pools)] + [
            seat_address(self.id, s) for s in self.seats]

    # -- billing --------------------------------------------------------------------------
    def bill(self, line: Line, at_us: int, kind: str, cause: str, revenue: int, key: str,
             period_at: int | None = None) -> None:
        """Book a currency line at `at_us` to the paying customer's receivable; put it on this
        customer's invoice of the period holding `period_at` (default `at_us`), or send it to
        the payer's (`payer: parent`)."""
        if line.package is None:
            line.package = self.contract.package
        self.book.post(key, at_us, kind, cause, [(self.chart.unbilled(self.payer), line.units), (revenue, -line.units)])
        when = at_us if period_at is None else period_at
        if self.payer == self.id:
            self.invoice_for(when, key).add(line)
        else:
            self.mail.tell(self.payer, Charge(
                kind=line.kind, description=line.description, units=line.units, source=self.id, at_us=when,
                product=line.product, quantity=line.quantity, unit=line.unit, package=line.package, cause=cause))

    def open_invoice(self, what: str) -> Invoice:
        """The invoice of the period in progress, or a refusal naming what needed it."""
        invoice = self.invoice
        require(invoice is not None, f"customer {self.id} has no open invoice for {what}")
        assert invoice is not None
        return invoice

    def in_grace(self, at_us: int) -> GracePeriod | None:
        """The ended period still waiting out its grace that holds `at_us` (Live time); None
        when `at_us` is in the period in progress, or in no period kept open."""
        prev = self.previous
        if prev is not None and prev.start <= at_us < self.period_start:
            return prev
        return None

    def invoice_for(self, at_us: int, what: str) -> Invoice:
        """The invoice of the period holding `at_us`: the one in progress, or (Live time) the
        ended period still waiting out its grace; a refusal if neither holds it."""
        if at_us >= self.period_start:
            return self.open_invoice(what)
        held = self.in_grace(at_us)
        require(held is not None, f"customer {self.id}: the period holding {what} is settled already")
        assert held is not None
        return held.invoice

    def money_line(self, value: Fraction) -> int:
        """A currency amount rounded half-up to the cent, at the ledger scale (rule 3)."""
        cur = self.catalog.currency
        return round_to_display(value, cur.scale, cur.decimals)

    def roll_up(self, at_us: int, cause: str, *, usage_units: int = 0, spend_units: int = 0) -> None:
        """Count usage or spend in this account's own period, and send it up to every
        ancestor's ParentAccount (which sums its descendants)."""
        period = self.period_start if at_us >= self.period_start else self.period_key(at_us)
        if usage_units:
            self.own_usage[period] = self.own_usage.get(period, 0) + usage_units
        if spend_units:
            self.own_spend[period] = self.own_spend.get(period, 0) + spend_units
        if self.ancestors:
            msg = Rollup(source=self.id, at_us=at_us, usage_units=usage_units, spend_units=spend_units, cause=cause)
            for ancestor in self.ancestors:
                self.mail.tell(rollup_address(ancestor), msg)
