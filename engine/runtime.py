"""The engine core shared by both modes: actors, routing, the timeline and the ledger writer."""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from meterbook.actors import Chart, CommandError, ContractSpec, Customer
from meterbook.actors.catalog import FOREVER
from meterbook.actors.messages import (
    PHASE_START,
    PHASE_USAGE,
    ChangePackage,
    Msg,
    SetParent,
    Start,
    Timer,
    Usage,
)
from meterbook.engine.build import Input, build_catalog, contract_of, price_of
from meterbook.engine.errors import InputError
from meterbook.ledger import Book
from meterbook.scenarios import format as fmt
from meterbook.scenarios.types import format_at
from sortedcontainers import SortedList

FLUSH_EVERY = 20_000


class Engine:
    """Routes inputs and timers to actors in (time, phase, sequence) order.

    Simulation pushes a whole scenario and runs to its end; the live runner pushes inputs
    as they arrive and advances to the wall clock. The actors cannot tell the two apart."""

    def __init__(self, scenario: fmt.Scenario, book: Book, *, horizon: int | None = None,
                 only: frozenset[str] | None = None) -> None:
        """`only` restricts the engine to some account trees (the live runner runs one engine
        per tree); it must hold whole trees."""
        self.scenario = scenario
        self.book = book
        self.horizon = scenario.end if horizon is None else horizon
        self.catalog = build_catalog(scenario)
        for unit in self.catalog.units.values():
            book.unit(unit.id, unit.scale, unit.decimals)
        self.chart = Chart(book, self.catalog.currency.id)
        self.packages = {p.id: p for p in scenario.packages}
        # Package versions in force from an instant on: (from, definition, version number).
        self.versions: dict[str, list[tuple[int, fmt.Contract, int]]] = {
            p.id: [(-FOREVER, p, 0)] for p in scenario.packages}
        self.customers: dict[str, Customer] = {}
        self.provisioned: dict[str, str | None] = {}
        # Timers (and any input that arrives out of order) wait in a sorted list; inputs that
        # arrive in (time, phase) order, as a sorted scenario or a live feed does, queue in a
        # deque, which costs nothing to keep sorted. run_until merges the two heads.
        self.timeline: SortedList = SortedList()
        self.inputs: deque = deque()
        self.seq = 0
        self.now = scenario.start
        self.seen: set[str] = set()
        self.duplicates = 0
        self.accepted = 0
        mine = [c for c in scenario.customers if only is None or c.id in only]
        for c in mine:
            self._add_customer(c)
        for c in mine:
            if c.parent is not None:
                self.customers[c.id].parent = self.customers[c.parent]

    def _add_customer(self, c: fmt.Customer) -> None:
        start = c.start if c.start is not None else self.scenario.start
        if c.package is not None:
            contract = contract_of(self.catalog, self.packages[c.package], start, c.package,
                                   relative_to=None)
        else:
            assert c.contract is not None
            contract = contract_of(self.catalog, c.contract, start)
        actor = Customer(id=c.id, name=c.name or c.id, contract=contract, start=start,
                         catalog=self.catalog, chart=self.chart, book=self.book,
                         horizon=self.horizon, seats=tuple(c.seats), payer=c.payer)
        self.customers[c.id] = actor
        self.provisioned[c.id] = c.package
        self.schedule(start, PHASE_START, c.id, Start(cause=f"contract:{c.id}"))

    # -- timeline -------------------------------------------------------------------------
    def schedule(self, at_us: int, phase: int, target: str, msg: Msg | Input) -> None:
        """Queue a message; past the horizon's period closes nothing is delivered."""
        if at_us > self.horizon or (at_us == self.horizon and phase > 2):
            return
        self.seq += 1
        entry = (at_us, phase, self.seq, target, msg)
        if isinstance(msg, Input):
            inputs = self.inputs
            if not inputs or inputs[-1][:2] <= entry[:2]:
                inputs.append(entry)
                return
        self.timeline.add(entry)

    def submit(self, item: Input) -> bool:
        """Accept one input; a duplicate id is acknowledged and ignored (returns False)."""
        if item.input_id in self.seen:
            self.duplicates += 1
            return False
        if item.at_us < self.now:
            raise InputError(item.path, f"{item.name} at {_fmt(item.at_us)} is late: this engine is at "
                                        f"{_fmt(self.now)} (inputs arrive in time order)")
        self.seen.add(item.input_id)
        self.accepted += 1
        self.schedule(item.at_us, item.phase, item.target, item)
        return True

    def run_until(self, at_us: int, phase: int = PHASE_USAGE) -> None:
        """Deliver everything due up to and including (`at_us`, `phase`)."""
        timeline = self.timeline
        inputs = self.inputs
        book = self.book
        bound = (at_us, phase, FOREVER)
        while True:
            if inputs and (not timeline or inputs[0] < timeline[0]):
                if not inputs[0] < bound:
                    return
                when, _, _, target, msg = inputs.popleft()
            elif timeline and timeline[0] < bound:
                when, _, _, target, msg = timeline.pop(0)
            else:
                return
            self.now = when
            if type(msg) is Input:
                self._input(msg)
            else:
                try:
                    self._deliver(target, msg, when)
                except CommandError as exc:
                    where = list(self.customers).index(target)
                    raise InputError(f"$.customers[{where}]",
                                     f"{type(msg).__name__.lower()} at {_fmt(when)}: {exc}") from None
            if book.pending >= FLUSH_EVERY:
                book.flush()

    def run(self) -> None:
        """Run everything to the horizon, including the period closes at its instant."""
        with quiet_gc():
            self.run_until(self.horizon, 2)
        self.book.flush()

    def package_contract(self, package: str, at_us: int) -> ContractSpec:
        """The contract of the package version in force at `at_us`, starting then."""
        _, definition, version = [v for v in self.versions[package] if v[0] <= at_us][-1]
        return contract_of(self.catalog, definition, at_us, package, version)

    def _deliver(self, target: str, msg: Msg, now: int) -> None:
        if type(msg) is Start and self.provisioned.get(target):
            # Provisioned from the package version in force when the contract starts.
            msg = Start(cause=msg.cause, contract=self.package_contract(self.provisioned[target], now))
        out = self.customers[target].handle(msg, now)
        for timer in out:
            assert isinstance(timer, Timer)
            self.schedule(timer.at_us, timer.phase, timer.target, timer.msg)

    def _input(self, item: Input) -> None:
        msg = item.msg
        try:
            if type(msg) is Usage:
                self.customers[item.target].on_usage(msg, item.at_us)
            elif isinstance(msg, fmt.UpdateRate):
                card = self.catalog.rate_cards[msg.rate_card]
                card.set(msg.product, item.at_us, price_of(self.catalog, msg.credit_type, msg.price, msg.tiers))
                self.catalog.version += 1
            elif isinstance(msg, fmt.UpdatePackage):
                versions = self.versions[msg.package]
                versions.append((item.at_us, msg, versions[-1][2] + 1))
            elif isinstance(msg, fmt.ChangePackage):
                self._change_package(item, msg)
            elif isinstance(msg, SetParent):
                self._set_parent(item, msg)
            else:
                self._deliver(item.target, msg, item.at_us)
        except CommandError as exc:
            raise InputError(item.path, f"{item.name} at {_fmt(item.at_us)}: {exc}") from None

    def _change_package(self, item: Input, cmd: fmt.ChangePackage) -> None:
        actor = self.customers[item.target]
        if item.at_us < actor.start:
            raise CommandError(f"customer {actor.id} starts at {_fmt(actor.start)}")
        contract = self.package_contract(cmd.to, item.at_us)
        migrate = item.name == "migrate_package"
        if migrate and (actor.contract.package, actor.contract.version) == (cmd.to, contract.version):
            raise CommandError(f"customer {actor.id} is already on version {contract.version} of {cmd.to!r}")
        self._deliver(item.target, ChangePackage(contract=contract, migrate=migrate, cause=item.input_id),
                      item.at_us)

    def _set_parent(self, item: Input, cmd: SetParent) -> None:
        actor = self.customers[item.target]
        if cmd.parent is not None and cmd.parent not in self.customers:
            raise CommandError(f"{cmd.parent!r} is in another account tree of this engine")
        if cmd.parent is None:
            actor.parent = None
            actor.payer = "self"
            return
        node = self.customers[cmd.parent]
        while node is not None:
            if node is actor:
                raise CommandError(f"moving {actor.id} under {cmd.parent} would make a cycle")
            node = node.parent
        actor.parent = self.customers[cmd.parent]
        if cmd.payer is not None:
            actor.payer = cmd.payer


@contextmanager
def quiet_gc(threshold: int = 200_000) -> Iterator[None]:
    """Collect cycles less often while dispatching: each event allocates short-lived tuples
    and no cycles, and with a million live objects every gen-2 pass rescans them all (a third
    of run time at 1M events, measured in bench/)."""
    old = gc.get_threshold()
    gc.set_threshold(threshold, old[1], max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _fmt(at_us: int) -> str:
    return format_at(at_us)
