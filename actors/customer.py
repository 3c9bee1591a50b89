"""The Customer actor: contract, periods and invoices, package changes, lineage.

Its other jobs live beside it, one module each: grants (customer_grants.py), subscriptions
and seats (customer_seats.py), contract edits (customer_edits.py), usage (customer_usage.py);
customer_state.py holds the state they share. It owns its invoices; its grants are held by
its CreditPool and Seat actors, its roll-ups by its ParentAccount, and it reaches all of them
by message only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meterbook.actors.accounts import Chart
from meterbook.actors.catalog import Catalog, ContractSpec
from meterbook.actors.customer_edits import EditsMixin
from meterbook.actors.customer_state import GracePeriod
from meterbook.actors.customer_usage import UsageMixin
from meterbook.actors.errors import CommandError, require
from meterbook.actors.invoice import Invoice, Line
from meterbook.actors.mailbox import Mailbox
from meterbook.actors.messages import (
    Activate,
    AddSeats,
    BuyCredits,
    ChangePackage,
    Charge,
    Close,
    EditContract,
    Expire,
    Forfeited,
    ForfeitRecurring,
    InvoiceItem,
    Lineage,
    Msg,
    Open,
    Phase,
    RemoveSeats,
    SetQuantity,
    Start,
    Usage,
)
from meterbook.actors.money import in_range
from meterbook.actors.periods import fraction_left, next_month, period_label
from meterbook.errors import invariant
from meterbook.ledger import Book


class Customer(UsageMixin, EditsMixin):
    """One customer account. Handles its messages in dispatch order."""

    def __init__(
        self, *, id: str, name: str, contract: ContractSpec, start: int, catalog: Catalog,
        chart: Chart, book: Book, mail: Mailbox, horizon: int, seats: tuple[str, ...] = (), grace: int = 0,
    ) -> None:
        super().__init__(id=id, name=name, contract=contract, start=start, catalog=catalog, chart=chart,
                         book=book, mail=mail, horizon=horizon, seats=seats, grace=grace)

    def handle(self, msg: Msg, now: int) -> None:
        """Apply one message at engine time `now`."""
        try:
            handler = _HANDLERS[type(msg)]
        except KeyError:
            raise CommandError(f"a customer cannot handle {type(msg).__name__}") from None
        handler(self, msg, now)

    # -- periods --------------------------------------------------------------------------
    def on_start(self, msg: Start, now: int) -> None:
        """Begin the contract: first (possibly short) period, its charges and grants."""
        if msg.contract is not None:
            seats = next((self.assigned[s.id] for s in self.contract.subscriptions if s.seat_based), [])
            self.assigned, self.quantity = {}, {}
            self._install(msg.contract, tuple(seats))
        # A start back-dated within the grace (a created customer) opens its first period
        # then and prorates from then; what it books is booked now.
        begin = msg.start if msg.start is not None else now
        self.package_history.append((begin, self.contract.package, self.contract.version))
        self._open_period(begin, next_month(begin), now, msg.cause)
        for spec in self.contract.grants:
            self.schedule_grant(spec, now, msg.cause)

    def _open_period(self, start: int, end: int, now: int, cause: str) -> None:
        self.period_start, self.period_end = start, end
        self.invoice = Invoice(self.id, start, end)
        self.invoices.append(self.invoice)
        self.aggs = {}
        self.paid_max = {}
        # Seats removed last period are retired when it settles (their grants end with it):
        # now, or (Live time) once its grace is over, as late usage may still name them.
        retiring = tuple(s for s, assigned in self.seats.items() if not assigned)
        if self.previous is not None:
            self.previous.retiring = retiring
        else:
            for seat in retiring:
                del self.seats[seat]
        fraction = fraction_left(start)
        for sub in self.contract.subscriptions:
            qty = self.sub_quantity(sub.id)
            self.paid_max[sub.id] = qty
            self.charge_subscription(sub.id, qty, fraction, now, cause, "subscription")
        label = period_label(end)
        self.mail.later(self.settles_at(end), Phase.CLOSE, self.id,
                        Close(period=start, cause=f"period:{self.id}:{period_label(start)}:close"))
        if end < self.horizon:
            self.mail.later(end, Phase.OPEN, self.id, Open(cause=f"period:{self.id}:{label}:open"))
        self.grant_recurring(self.contract.recurring, now, end, fraction, cause, None)

    def on_close(self, msg: Close, now: int) -> None:
        """Finalize the invoice of a period (rule 3: each line rounded once): the one ending
        now, or (Live time) the one whose grace ends now."""
        prev = self.previous
        if prev is not None and prev.start == msg.period:
            inv: Invoice | None = prev.invoice
            self.previous = None
            for seat in prev.retiring:
                if not self.seats.get(seat, True):
                    del self.seats[seat]  # still unassigned: retired with its period
        else:
            inv, self.invoice = self.invoice, None
        require(inv is not None and inv.start == msg.period, f"{self.id}: no period to close at this time")
        assert inv is not None
        cur = self.catalog.currency
        total = inv.rounded_total(cur.scale, cur.decimals)
        exact = sum(line.units for line in inv.lines)
        # Each charge was range-checked as it came; their sum may not fit one posting.
        for amount in (total, exact):
            in_range(amount, cur.scale, f"the total of the invoice for {period_label(inv.start)}")
        inv.total_units = total
        inv.status = "final"
        self.book.post(f"invoice:{self.id}:{period_label(inv.start)}", now, "invoice_finalized", msg.cause, [
            (self.chart.receivable(self.id), total), (self.chart.unbilled(self.id), -exact),
            (self.chart.rounding(), exact - total)])
        self.roll_up(inv.start, msg.cause, spend_units=total)

    def on_open(self, msg: Open, now: int) -> None:
        """Open the period starting now. The period that ended now is still open when it has a
        grace (Live time): it waits, a draft, for late usage until it settles."""
        if self.invoice is not None:
            invariant(self.previous is None, f"{self.id}: two ended periods wait out their grace at once")
            self.invoice.status = "draft"
            self.previous = GracePeriod(self.period_start, self.period_end, self.invoice, self.aggs,
                                        dict(self.recurring_amounts))
        self._open_period(now, next_month(now), now, msg.cause)

    def on_charge(self, msg: Charge, now: int) -> None:
        """A `payer: parent` descendant's charge, for the invoice of the period it belongs to
        (already booked): the current one, or the one in its grace for late usage."""
        held = self.in_grace(msg.at_us)
        invoice = held.invoice if held is not None else self.open_invoice(f"{msg.source}'s charge")
        if msg.kind == "usage":
            invoice.accrue_usage(msg.product or "", msg.description, msg.source, False, msg.unit or "",
                                 msg.units, msg.gross_units, msg.credits_units, msg.package)
            return
        invoice.add(Line(kind=msg.kind, description=f"{msg.description} ({msg.source})", units=msg.units,
                         product=msg.product, customer=msg.source, quantity=msg.quantity, package=msg.package))

    def on_lineage(self, msg: Lineage, now: int) -> None:
        """Where this account now stands in its tree (set by the engine on every move)."""
        self.ancestors = msg.ancestors
        self.payer = msg.payer

    # -- packages ---------------------------------------------------------------------------
    def on_change_package(self, msg: ChangePackage, now: int) -> None:
        """Move to another package (or version) mid-period, prorated (rule 2)."""
        old = self.contract
        require(msg.migrate or msg.contract.package != old.package,
                f"customer {self.id} is already on package {old.package!r}")
        require(now >= self.start, f"customer {self.id} starts later")
        fraction = fraction_left(now)
        for sub in old.subscriptions:
            # A change at the period's very start refunds even a charge that was not prorated.
            if (sub.proration or now == self.period_start) and self.paid_max.get(sub.id, 0) > 0:
                self.charge_subscription(sub.id, self.paid_max[sub.id], fraction, now, msg.cause, "credit")
        for holder in self.holder_addresses():
            forfeited = self.mail.ask(holder, ForfeitRecurring(cause=msg.cause))
            if isinstance(forfeited, Forfeited):
                for retired in forfeited.retired:
                    self.note_retired("", retired, holder, now, msg.cause)
        # Recurring grants of the old package that ended and wait out their grace expire with
        # no rollover: the old package's rolled-over credits would be forfeited by the change.
        self.recurring_grants.clear()
        seats = next((self.assigned[s.id] for s in old.subscriptions if s.seat_based), [])
        self.assigned = {}
        self.quantity = {}
        self._install(msg.contract, tuple(seats))
        self.package_history.append((now, msg.contract.package, msg.contract.version))
        if now == self.period_start:
            self.paid_max = {}
        for sub in self.contract.subscriptions:
            qty = self.sub_quantity(sub.id)
            self.paid_max[sub.id] = qty
            self.charge_subscription(sub.id, qty, fraction, now, msg.cause, "subscription")
        self.grant_recurring(self.contract.recurring, now, self.period_end, fraction, msg.cause, None)
        for spec in self.contract.grants:
            if spec.id not in self.specs:
                self.schedule_grant(spec, now, msg.cause)


# One table for every customer (a table of bound methods per instance costs memory at 100k
# accounts, measured in docs/performance.md).
_HANDLERS: dict[type[Msg], Callable[[Any, Any, int], None]] = {
    Usage: Customer.on_usage, Start: Customer.on_start, Close: Customer.on_close, Open: Customer.on_open,
    Expire: Customer.on_expire, Activate: Customer.on_activate, InvoiceItem: Customer.on_invoice_item,
    AddSeats: Customer.on_add_seats, RemoveSeats: Customer.on_remove_seats, SetQuantity: Customer.on_set_quantity,
    BuyCredits: Customer.on_buy_credits, ChangePackage: Customer.on_change_package, Lineage: Customer.on_lineage,
    Charge: Customer.on_charge, EditContract: Customer.on_edit_contract,
}
