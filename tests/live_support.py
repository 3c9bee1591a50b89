"""Helpers for live-runner tests: a scenario as the inputs a live ledger would receive (its
declared catalog and customers as create commands), fed on a manual clock, and an
independent simulation of a live file's journal to compare against."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import trio

from meterbook.actors.catalog import Catalog
from meterbook.actors.invoice import InvoiceOut
from meterbook.engine import inputs as ins
from meterbook.engine.clock import ManualClock
from meterbook.engine.from_scenario import scenario_inputs
from meterbook.engine.live import SNAPSHOT_EVERY, Ack, LiveRunner
from meterbook.engine.results import Results
from meterbook.engine.runtime import Runtime
from meterbook.engine.settings import read_settings
from meterbook.ledger import Book, export_lines
from meterbook.scenarios import Scenario


def live_inputs(s: Scenario, base: Path = Path(".")) -> list[ins.Input]:
    """Everything a live ledger would be sent to become this scenario: its declared catalog
    and customers as create commands at the start, then its own inputs in apply order."""
    return list(scenario_inputs(s, "t.yaml", base))


async def feed(runner: LiveRunner, clock: ManualClock, items: Iterable[ins.Input]) -> list[Ack]:
    """Submit inputs one by one, the clock set to each one's instant (never backwards)."""
    acks = []
    for item in items:
        clock.set(max(clock.now_us(), item.at_us))
        acks.append(await runner.submit(item))
    return acks


@asynccontextmanager
async def serving(path: Path, clock: ManualClock, *, snapshot_every: int = SNAPSHOT_EVERY,
                  use_snapshot: bool = True) -> AsyncIterator[LiveRunner]:
    """A live runner (no grace, short ticks) on the file at `path`, serving inside the block;
    closed, and its ledger file closed, when the block ends."""
    book = Book(path, durable=True)
    try:
        runner = LiveRunner(book, clock, grace_seconds=0, tick_s=0.01, snapshot_every=snapshot_every,
                            use_snapshot=use_snapshot)
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.serve)
            yield runner
            await runner.close()
    finally:
        book.close()


async def run_live(path: Path, items: list[ins.Input], start: int, end: int) -> list[Ack]:
    """A live runner on a new file at `path`, fed `items`, closed with the clock at `end`."""
    clock = ManualClock(start)
    async with serving(path, clock) as runner:
        acks = await feed(runner, clock, items)
        clock.set(max(clock.now_us(), end + 1))
    return acks


def journal_of(path: Path) -> list[ins.Input]:
    """The inputs of a ledger's journal, in order."""
    conn = sqlite3.connect(path)
    bodies = [str(row[0]) for row in conn.execute("SELECT body FROM inputs ORDER BY seq")]
    conn.close()
    return [msgspec.json.decode(body, type=ins.AnyInput) for body in bodies]  # type: ignore[arg-type]


def simulate_journal(live_path: Path, out_path: Path) -> bytes:
    """An independent simulation of a live file's journal, ending at its horizon (what the
    journal exported as a scenario runs): the ledger export it computes."""
    return simulate_journal_results(live_path, out_path)[0]


def simulate_journal_results(live_path: Path, out_path: Path) -> tuple[bytes, list[InvoiceOut]]:
    """`simulate_journal`, and the invoices the simulation issued."""
    conn = sqlite3.connect(live_path)
    settings = read_settings(conn)
    conn.close()
    assert settings.end_us is not None
    book = Book(out_path)
    rt = Runtime(Catalog.of_currency(settings.currency), {}, book, start=settings.start_us,
                 horizon=settings.end_us, grace_seconds=settings.grace_seconds)
    for item in journal_of(live_path):
        rt.advance_to(item.at_us, item.phase)
        answer = rt.apply(item)
        assert answer.status == "accepted", answer
    rt.finish()
    out = export_lines(book.conn)
    invoices = Results(rt).invoices()
    book.close()
    return out, invoices
