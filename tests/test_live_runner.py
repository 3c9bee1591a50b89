"""One logic, two clocks: the live runner fed the same inputs writes the same ledger."""

from __future__ import annotations

from pathlib import Path

import trio

from engine.build import entry_input
from engine.clock import ManualClock
from engine.live import LiveRunner
from engine.runtime import Engine
from engine.simulate import run_scenario
from ledger import Book, export_lines, verify_file
from scenarios import load
from tests.conftest import EXAMPLES


async def replay_live(path: Path, ledger: Path) -> bytes:
    scenario = load(path)
    book = Book(ledger, durable=True)
    engine = Engine(scenario, book)
    clock = ManualClock(scenario.start)
    runner = LiveRunner(engine, clock, tick_s=0.01)
    entries = sorted(enumerate(scenario.timeline), key=lambda ie: ie[1].at)
    acks = []
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        for i, entry in entries:
            clock.set(entry.at)  # time injected from the events
            acks.append(await runner.submit(entry_input(entry, f"$.timeline[{i}]", scenario.currency)))
        await runner.close()
    await runner.finish()
    assert [a.error for a in acks if a.error] == []
    out = export_lines(book.conn)
    book.close()
    return out


async def test_live_export_equals_simulation(tmp_path: Path) -> None:
    path = EXAMPLES / "usage-and-commits.yaml"
    live = await replay_live(path, tmp_path / "live.sqlite")
    sim = run_scenario(load(path), str(tmp_path / "sim.sqlite"), path.name)
    expected = export_lines(sim.book.conn)
    sim.book.close()
    assert live == expected
    assert verify_file(tmp_path / "live.sqlite") == []


async def test_live_duplicate_is_acknowledged_and_ignored(tmp_path: Path) -> None:
    path = EXAMPLES / "usage-and-commits.yaml"
    scenario = load(path)
    engine = Engine(scenario, Book(tmp_path / "l.sqlite"))
    runner = LiveRunner(engine, ManualClock(scenario.start), tick_s=0.01)
    entry = scenario.timeline[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        first = await runner.submit(entry_input(entry, "$.timeline[1]", "USD"))
        second = await runner.submit(entry_input(entry, "$.timeline[1]", "USD"))
        await runner.close()
    assert (first.accepted, first.duplicate) == (True, False)
    assert (second.accepted, second.duplicate) == (False, True)
    assert engine.duplicates == 1
    engine.book.close()
