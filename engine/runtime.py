"""The runtime: the one seam both modes use, `apply(input)` and `advance_to(t)`.

Simulation is a loop of `advance_to(input time)` + `apply(input)` over a scenario, then
`finish()`; live mode calls the same two from the wall clock and its inboxes. The runtime
validates an input against what exists, deduplicates it by id, delivers it to the actor that
owns it, and answers accepted / duplicate / refused. It owns the account trees (who is whose
parent and who pays) as routing data, and tells each customer its lineage by message: it
never edits an actor."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from meterbook.actors import Chart, CommandError, CreditPool, Customer, ParentAccount, Seat
from meterbook.actors.catalog import FOREVER, Catalog, ContractSpec, ContractTerms, RateCard
from meterbook.actors.contracts import contract_of
from meterbook.actors.mailbox import Actor, pool_address, rollup_address, seat_address
from meterbook.actors.messages import (
    AddSeats,
    BuyCredits,
    ChangePackage,
    Lineage,
    Msg,
    Phase,
    RemoveSeats,
    SetQuantity,
    Start,
    Usage,
)
from meterbook.engine import inputs as ins
from meterbook.engine.edits import edit_message
from meterbook.engine.router import ENGINE, Router
from meterbook.errors import InputError
from meterbook.ledger import Book
from meterbook.scenarios.live_time import SECOND_US, back_dated, effective_time, grace_note, timestamp_problem
from meterbook.scenarios.types import format_at

FLUSH_EVERY = 20_000


def _plain(obj: Any) -> Any:
    """Subclasses of int and Decimal (the file format's At and Amount) as their base type."""
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, Decimal):
        return str(obj)
    raise NotImplementedError(f"cannot journal {type(obj).__name__}")


# "deterministic" sorts sets (child_access) and dict keys, so a body never depends on the
# process's hash seed: the journal must be byte-identical from run to run.
_ENCODE = msgspec.json.Encoder(enc_hook=_plain, decimal_format="string", order="deterministic").encode
_LAST_PHASE = len(Phase)


class Provision(Msg, frozen=True):
    """Engine timer: a customer provisioned from a package starts (on the version in force at
    its start, which is now unless it was back-dated within the grace)."""

    customer: str
    start: int


class PackageVersion(NamedTuple):
    """One version of a package: in force from `since` on."""

    since: int
    terms: ContractTerms
    number: int


class Fault(msgspec.Struct, frozen=True):
    """A timer that could not apply (a contract the catalog cannot bill, say): recorded, so a
    live runner keeps serving, and a simulation reports it as a load error."""

    at_us: int
    target: str
    message: str
    reason: str


class Runtime:
    """One engine: a catalog, the actors of some account trees, their timers, one ledger."""

    def __init__(self, catalog: Catalog, packages: dict[str, ContractTerms], book: Book, *, start: int,
                 horizon: int, autoflush: bool = True, grace_seconds: int = 0) -> None:
        self.catalog = catalog
        self.book = book
        self.start = start
        self.horizon = horizon
        # Live time: how long after its timestamp usage may arrive; periods settle that long
        # after they end (scenarios/live_time.py, docs/semantics.md "Live time").
        self.grace_seconds = grace_seconds
        self.autoflush = autoflush
        for unit in catalog.units.values():
            book.unit(unit.id, unit.scale, unit.decimals)
        self.chart = Chart(book, catalog.currency.id)
        self.router = Router(horizon, self._build)
        self.router.engine = _EngineActor(self)
        self.router.now = start
        # Package versions, each in force from an instant on.
        self.versions: dict[str, list[PackageVersion]] = {
            pid: [PackageVersion(-FOREVER, terms, 0)] for pid, terms in packages.items()}
        self.customers: dict[str, Customer] = {}
        self.provisioned: dict[str, str | None] = {}
        self.parent: dict[str, str | None] = {}
        self.pays: dict[str, str] = {}
        self.accepted = 0
        self.duplicates = 0
        self.faults: list[Fault] = []
        self._apply: dict[type[ins.Input], Callable[[Any, str], None]] = {
            ins.CreateCustomer: self._create_customer, ins.RecordUsage: self._usage,
            ins.AddSeats: self._add_seats, ins.RemoveSeats: self._remove_seats, ins.SetQuantity: self._set_quantity,
            ins.BuyCredits: self._buy_credits, ins.ChangePackage: self._change_package,
            ins.SetParent: self._set_parent, ins.UpdateRate: self._update_rate, ins.UpdatePackage: self._update_package,
            ins.CreateCreditType: self._create_credit_type, ins.CreateProduct: self._create_product,
            ins.CreateRateCard: self._create_rate_card, ins.CreatePackage: self._create_package,
            ins.EditContract: self._edit_contract,
        }

    @property
    def now(self) -> int:
        """The instant the engine has reached."""
        return self.router.now

    # -- the seam -------------------------------------------------------------------------
    def advance_to(self, at_us: int, before: Phase | None = None) -> None:
        """Fire every timer up to `at_us` in phase order; with `before`, stop short of that
        phase at `at_us` (so an input of that phase finds the instant as the rulebook says)."""
        bound = (at_us if at_us < self.horizon else self.horizon, _LAST_PHASE if before is None else int(before))
        router = self.router
        book = self.book
        while True:
            entry = router.next_due(bound)
            if entry is None:
                break
            at, _, _, target, msg = entry
            router.now = at
            try:
                router.deliver(target, msg)
            except CommandError as exc:
                # The engine's own timers act for a customer: name that customer.
                who, what = (msg.customer, "start") if isinstance(msg, Provision) else (target, type(msg).__name__)
                self.faults.append(Fault(at, who, what.lower(), str(exc)))
            if self.autoflush and book.pending >= FLUSH_EVERY:
                book.flush()
        if at_us > router.now:
            router.now = min(at_us, self.horizon)

    def apply(self, item: ins.Input, *, replay: bool = False) -> ins.Answer:
        """Validate, deduplicate and deliver one input; say what became of it. `replay`: the
        input comes from this ledger's own journal (a restart): it is neither looked up nor
        journaled again."""
        key = cause_of(item)
        if not replay and self.book.journaled(key):
            self.duplicates += 1
            return ins.Answer(input_id=item.id, status="duplicate")
        try:
            if item.at_us < self.router.now:
                raise InputError(item.id, "$.at", f"{format_at(item.at_us)} is late: this engine is at "
                                                  f"{format_at(self.router.now)} (inputs arrive in time order)")
            if item.at_us >= self.horizon:
                raise InputError(item.id, "$.at", f"{format_at(item.at_us)} is at or after the end of the run "
                                                  f"({format_at(self.horizon)})")
            head = self.router.head
            if head is not None and head < (item.at_us, item.phase):
                self.advance_to(item.at_us, item.phase)  # timers due before this input fire first
            elif item.at_us > self.router.now:
                self.router.now = item.at_us
            if type(item) is ins.RecordUsage:
                self._usage(item, key)  # most inputs: no table lookup
            else:
                self._apply[type(item)](item, key)
        except InputError as exc:
            return ins.Answer(input_id=item.id, status="refused", field=exc.field, reason=exc.reason)
        except CommandError as exc:
            return ins.Answer(input_id=item.id, status="refused", field=exc.field, reason=str(exc))
        self.accepted += 1
        # Journaled with the postings it caused (same batch, same SQLite transaction); where
        # the input came from is not part of it, so a replay from any source is the same.
        if not replay:
            self.book.journal(key, item.at_us, type(item).__name__, journal_body(item))
        if self.autoflush and self.book.pending >= FLUSH_EVERY:
            self.book.flush()
        return ins.Answer(input_id=item.id, status="accepted")

    def finish(self) -> None:
        """Run to the horizon, including the period closes at its instant, and flush."""
        with quiet_gc():
            self.advance_to(self.horizon)
        self.book.flush()

    def _build(self, kind: str, customer: str, key: str | int) -> Actor:
        """The actors customers start by message (`Mailbox.spawn`)."""
        currency = self.catalog.currency.id
        if kind == "pool":
            return CreditPool(pool_address(customer, str(key)), customer, str(key), currency, self.chart, self.book,
                              self.router)
        if kind == "seat":
            return Seat(seat_address(customer, str(key)), customer, str(key), currency, self.chart, self.book)
        assert isinstance(key, int)
        return ParentAccount(rollup_address(customer), customer, key)

    # -- customers and trees --------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer:
        """The actor of one customer (for results; the engine never edits it)."""
        return self.customers[customer_id]

    def actor(self, address: str) -> Actor | None:
        """The actor at an address, for read-only results."""
        return self.router.actors.get(address)

    def _known(self, item: ins.Input, customer: str, field: str = "$.customer") -> Customer:
        actor = self.customers.get(customer)
        if actor is None:
            raise InputError(item.id, field, f"unknown customer {customer!r}")
        if item.at_us < actor.start:
            raise InputError(item.id, "$.at", f"customer {customer!r} starts at {format_at(actor.start)}")
        return actor

    def _create_customer(self, item: ins.CreateCustomer, cause: str) -> None:
        cid = item.customer
        if cid in self.customers:
            raise InputError(item.id, "$.customer", f"customer {cid!r} exists already")
        if item.parent is not None and item.parent not in self.customers:
            raise InputError(item.id, "$.parent", f"unknown customer {item.parent!r}")
        start = item.start_us if item.start_us is not None else item.at_us
        early = back_dated(start, item.at_us, self.grace_seconds)
        if early is not None:
            why = " in a month that has ended" if early == "month" else grace_note(self.grace_seconds)
            raise InputError(item.id, "$.start", f"{format_at(start)} is before the customer is created "
                                                 f"({format_at(item.at_us)}){why}")
        if item.package is not None:
            if item.package not in self.versions:
                raise InputError(item.id, "$.package", f"unknown package {item.package!r}")
            contract = self.package_contract(item.package, start)
        else:
            assert item.terms is not None
            if item.terms.rate_card not in self.catalog.rate_cards:
                raise InputError(item.id, "$.contract.rate_card", f"unknown rate card {item.terms.rate_card!r}")
            contract = contract_of(item.terms, start)
        actor = Customer(id=cid, name=item.name or cid, contract=contract, start=start,
                         catalog=self.catalog, chart=self.chart, book=self.book, mail=self.router,
                         horizon=self.horizon, seats=item.seats, grace=self.grace_seconds * SECOND_US)
        self.customers[cid] = actor
        self.router.add(actor)
        self.provisioned[cid] = item.package
        self.parent[cid] = item.parent
        self.pays[cid] = item.payer
        if item.parent is not None:
            self._has_child(item.parent)
        lineage = self._lineage(cid)  # a new account has no descendants yet
        self.router.deliver(cid, Lineage(ancestors=lineage.ancestors, payer=lineage.payer, cause=cause))
        if item.package is not None:
            self.router.later(max(start, self.now), Phase.START, ENGINE,
                              Provision(customer=cid, start=start, cause=f"contract:{cid}"))
        else:
            self.router.later(max(start, self.now), Phase.START, cid,
                              Start(cause=f"contract:{cid}", start=start if start < self.now else None))

    def package_contract(self, package: str, at_us: int) -> ContractSpec:
        """The contract of the package version in force at `at_us`, starting then."""
        current = [v for v in self.versions[package] if v.since <= at_us][-1]
        return contract_of(current.terms, at_us, package, current.number)

    def provision(self, msg: Provision) -> None:
        """Start a packaged customer on the package version in force now."""
        package = self.provisioned[msg.customer]
        assert package is not None
        self.router.ask(msg.customer, Start(cause=msg.cause, contract=self.package_contract(package, msg.start),
                                            start=msg.start if msg.start < self.now else None))

    def _has_child(self, cid: str) -> None:
        """A customer with a child gets a ParentAccount for its descendants' roll-ups."""
        self.router.spawn("rollup", cid, self.customers[cid].start)

    def _lineage(self, cid: str) -> Lineage:
        ancestors = []
        node = self.parent[cid]
        while node is not None:
            ancestors.append(node)
            node = self.parent[node]
        payer = cid
        while self.pays[payer] == "parent" and self.parent[payer] is not None:
            payer = self.parent[payer]  # type: ignore[assignment]
        return Lineage(ancestors=tuple(ancestors), payer=payer, cause="")

    def _tell_lineage(self, roots: list[str], cause: str) -> None:
        """Tell `roots` and all their descendants where they now stand."""
        moved = set(roots)
        for cid in self.customers:
            node: str | None = cid
            while node is not None and node not in moved:
                node = self.parent[node]
            if node is not None:
                lineage = self._lineage(cid)
                self.router.deliver(cid, Lineage(ancestors=lineage.ancestors, payer=lineage.payer, cause=cause))

    def _set_parent(self, item: ins.SetParent, cause: str) -> None:
        actor = self._known(item, item.customer)
        if item.parent is not None:
            if item.parent not in self.customers:
                raise InputError(item.id, "$.parent", f"unknown customer {item.parent!r}")
            node: str | None = item.parent
            while node is not None:
                if node == actor.id:
                    raise CommandError(f"moving {actor.id} under {item.parent} would make a cycle")
                node = self.parent[node]
        self.parent[actor.id] = item.parent
        if item.parent is not None:
            self._has_child(item.parent)
        if item.parent is None:
            self.pays[actor.id] = "self"
        elif item.payer is not None:
            self.pays[actor.id] = item.payer
        self._tell_lineage([actor.id], cause)

    # -- commands and usage -----------------------------------------------------------------
    def _deliver(self, item: ins.Input, customer: str, msg: Msg) -> None:
        self._known(item, customer)
        self.router.deliver(customer, msg)

    def _usage(self, item: ins.RecordUsage, cause: str) -> None:
        # _deliver written out: this runs once per event.
        actor = self.customers.get(item.customer)
        if actor is None or item.at_us < actor.start:
            actor = self._known(item, item.customer)  # raises, naming what is wrong
        stamp = item.at_us if item.timestamp_us is None else self._stamp(item, actor)
        self.router.deliver(item.customer, Usage(id=item.id, event_type=item.event_type,
                                                 properties=item.properties, at_us=stamp, cause=cause))

    def _stamp(self, item: ins.RecordUsage, actor: Customer) -> int:
        """The instant a usage event with a timestamp is billed at, or a refusal at
        `$.timestamp` (too far ahead of its arrival, older than the grace, before its
        customer starts, or at or after the end of the run)."""
        assert item.timestamp_us is not None
        stamp = item.timestamp_us
        problem = timestamp_problem(stamp, item.at_us, self.grace_seconds)
        if problem is None and stamp < actor.start:
            problem = f"{format_at(stamp)} is before customer {actor.id!r} starts ({format_at(actor.start)})"
        if problem is None and stamp >= self.horizon:
            problem = f"{format_at(stamp)} is at or after the end of the run ({format_at(self.horizon)})"
        if problem is not None:
            raise InputError(item.id, "$.timestamp", problem)
        return effective_time(stamp, item.at_us)

    def _add_seats(self, item: ins.AddSeats, cause: str) -> None:
        self._deliver(item, item.customer, AddSeats(subscription=item.subscription, seats=item.seats,
                                                    cause=cause))

    def _remove_seats(self, item: ins.RemoveSeats, cause: str) -> None:
        self._deliver(item, item.customer, RemoveSeats(subscription=item.subscription, seats=item.seats,
                                                       cause=cause))

    def _set_quantity(self, item: ins.SetQuantity, cause: str) -> None:
        self._deliver(item, item.customer, SetQuantity(subscription=item.subscription, quantity=item.quantity,
                                                       cause=cause))

    def _buy_credits(self, item: ins.BuyCredits, cause: str) -> None:
        if item.unit not in self.catalog.units:
            raise InputError(item.id, "$.credit_type", f"unknown credit type {item.unit!r}")
        self._deliver(item, item.customer, BuyCredits(
            id=item.grant, unit=item.unit, amount=item.amount, price=item.price, priority=item.priority,
            end=item.end_us, products=item.products, cause=cause))

    def _change_package(self, item: ins.ChangePackage, cause: str) -> None:
        actor = self._known(item, item.customer)
        if item.package not in self.versions:
            raise InputError(item.id, "$.to", f"unknown package {item.package!r}")
        contract = self.package_contract(item.package, item.at_us)
        if item.migrate and (actor.contract.package, actor.contract.version) == (item.package, contract.version):
            raise CommandError(f"customer {actor.id} is already on version {contract.version} of {item.package!r}")
        self.router.deliver(actor.id, ChangePackage(contract=contract, migrate=item.migrate, cause=cause))

    def _edit_contract(self, item: ins.EditContract, cause: str) -> None:
        """Additions to a customer's contract, checked against the catalog here (engine/edits.py)
        and against the customer's own state by the customer, before anything changes."""
        actor = self._known(item, item.customer)
        self.router.deliver(actor.id, edit_message(self.catalog, item, cause, self.grace_seconds))

    def _update_rate(self, item: ins.UpdateRate, cause: str) -> None:
        card = self.catalog.rate_cards.get(item.rate_card)
        if card is None:
            raise InputError(item.id, "$.rate_card", f"unknown rate card {item.rate_card!r}")
        self._priceable(item, item.product, item.price.unit, "$")
        card.set(item.product, item.at_us, item.price)
        self.catalog.version += 1

    # -- the catalog, created at run time ------------------------------------------------
    def _create_credit_type(self, item: ins.CreateCreditType, cause: str) -> None:
        unit = item.unit
        if unit.id in self.catalog.units:
            raise InputError(item.id, "$.id", f"credit type {unit.id!r} exists already")
        self.catalog.units[unit.id] = unit
        self.book.unit(unit.id, unit.scale, unit.decimals)

    def _create_product(self, item: ins.CreateProduct, cause: str) -> None:
        if item.product.id in self.catalog.products:
            raise InputError(item.id, "$.id", f"product {item.product.id!r} exists already")
        self.catalog.add_product(item.product)

    def _create_rate_card(self, item: ins.CreateRateCard, cause: str) -> None:
        if item.rate_card in self.catalog.rate_cards:
            raise InputError(item.id, "$.id", f"rate card {item.rate_card!r} exists already")
        card = RateCard(item.rate_card)
        for i, rate in enumerate(item.rates):
            self._priceable(item, rate.product, rate.price.unit, f"$.rates[{i}]")
            card.set(rate.product, rate.starting_at, rate.price)
        self.catalog.rate_cards[item.rate_card] = card

    def _priceable(self, item: ins.Input, product: str, unit: str, field: str) -> None:
        """A rate names a product and a unit that exist now."""
        if product not in self.catalog.products:
            raise InputError(item.id, f"{field}.product", f"unknown product {product!r}")
        if unit not in self.catalog.units:
            raise InputError(item.id, f"{field}.credit_type", f"unknown credit type {unit!r}")

    def _create_package(self, item: ins.CreatePackage, cause: str) -> None:
        if item.package in self.versions:
            raise InputError(item.id, "$.id", f"package {item.package!r} exists already")
        if item.terms.rate_card not in self.catalog.rate_cards:
            raise InputError(item.id, "$.rate_card", f"unknown rate card {item.terms.rate_card!r}")
        self.versions[item.package] = [PackageVersion(-FOREVER, item.terms, 0)]

    def _update_package(self, item: ins.UpdatePackage, cause: str) -> None:
        versions = self.versions.get(item.package)
        if versions is None:
            raise InputError(item.id, "$.package", f"unknown package {item.package!r}")
        versions.append(PackageVersion(item.at_us, item.terms, versions[-1].number + 1))


class _EngineActor:
    """The engine's own address on the router, for the timers it sets itself."""

    address = ENGINE

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def handle(self, msg: Msg, now: int) -> Any:
        assert isinstance(msg, Provision)
        self.runtime.provision(msg)


def journal_body(item: ins.Input) -> str:
    """An input as the journal stores it: canonical JSON, without where it came from."""
    return _ENCODE(msgspec.structs.replace(item, source="") if item.source else item).decode()


def cause_of(item: ins.Input) -> str:
    """The cause every posting of an input names, and its exactly-once key: the input's kind
    and id (not where it came from), so a replay from any source books the same."""
    if type(item) is ins.RecordUsage:
        return f"usage:{item.id}"
    if type(item) is ins.CreateCustomer:
        return f"customer:{item.id}"
    return f"command:{item.id}"


@contextmanager
def quiet_gc(threshold: int = 200_000) -> Iterator[None]:
    """Collect cycles less often while dispatching: each event allocates short-lived objects
    and no cycles, and with a million live objects every gen-2 pass rescans them all (a third
    of run time at 1M events, measured in bench/)."""
    old = gc.get_threshold()
    gc.set_threshold(threshold, old[1], max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)
