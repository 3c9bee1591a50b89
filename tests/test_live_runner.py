"""One logic, two clocks: the live runner fed the same inputs writes the same ledger."""

from __future__ import annotations

from pathlib import Path

import trio

from meterbook.engine.clock import ManualClock
from meterbook.engine.from_scenario import entry_input
from meterbook.engine.live import LiveRunner
from meterbook.engine.results import Results
from meterbook.engine.simulate import run_scenario
from meterbook.ledger import Book, export_lines, verify_file
from meterbook.scenarios import load
from tests.conftest import EXAMPLES


async def replay_live(path: Path, ledger: Path) -> bytes:
    scenario = load(path)
    book = Book(ledger, durable=True)
    clock = ManualClock(scenario.start)
    runner = LiveRunner(scenario, book, clock, tick_s=0.01)
    entries = sorted(enumerate(scenario.timeline), key=lambda ie: ie[1].at)
    acks = []
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        for i, entry in entries:
            clock.set(entry.at)  # time injected from the events
            acks.append(await runner.submit(entry_input(runner.runtimes[0].catalog, entry, i, f"$.timeline[{i}]")))
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
    book = Book(tmp_path / "l.sqlite")
    runner = LiveRunner(scenario, book, ManualClock(scenario.start), tick_s=0.01)
    entry = scenario.timeline[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        first = await runner.submit(entry_input(runner.runtimes[0].catalog, entry, 1, "$.timeline[1]"))
        second = await runner.submit(entry_input(runner.runtimes[0].catalog, entry, 1, "$.timeline[1]"))
        await runner.close()
    assert (first.accepted, first.duplicate) == (True, False)
    assert (second.accepted, second.duplicate) == (False, True)
    assert runner.duplicates == 1
    book.close()


async def test_independent_trees_run_concurrently_and_catalog_changes_reach_all(tmp_path: Path) -> None:
    from meterbook.engine.trees import account_trees
    from meterbook.scenarios import format as fmt
    from meterbook.scenarios import load_text, parse_at

    text = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: c, type: usage, metric: {event_type: job, aggregation: sum, property: h}}]
rate_cards: [{id: r, rates: [{product: c, price: "1.00"}]}]
customers:
""" + "".join(f"""  - id: t{i}
    contract:
      rate_card: r
      commits: [{{id: k, type: prepaid, amount: "500.00", invoice: [{{amount: "500.00"}}]}}]
""" for i in range(4))
    scenario = load_text(text, "trees.yaml")
    assert len(account_trees(scenario)) == 4
    book = Book(tmp_path / "trees.sqlite", durable=True)
    clock = ManualClock(parse_at("2026-01-10"))
    runner = LiveRunner(scenario, book, clock, max_batch=32, tick_s=0.01)
    at, later = parse_at("2026-01-10"), parse_at("2026-01-20")

    async def produce(tree: int, half: int, when: int, tag: str) -> None:
        for n in range(25):
            entry = fmt.Entry(at=when, usage=fmt.UsageEvent(id=f"{tag}{tree}-{half}-{n}", customer=f"t{tree}",
                                                            event_type="job", properties={"h": 10}))
            ack = await runner.submit(entry_input(runner.runtimes[0].catalog, entry, None, "$"))
            assert ack.accepted, ack.error

    async def wave(when: int, tag: str) -> None:
        async with trio.open_nursery() as producers:
            for tree in range(4):
                for half in range(2):
                    producers.start_soon(produce, tree, half, when, tag)

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        await wave(at, "a")
        clock.set(parse_at("2026-01-15"))
        change = fmt.Entry(at=parse_at("2026-01-15"),
                           update_rate=fmt.UpdateRate(rate_card="r", product="c", price=scenarios_amount("2.00")))
        ack = await runner.submit(entry_input(runner.runtimes[0].catalog, change, 0, "$.rate"))
        assert ack.accepted, ack.error
        clock.set(later)
        await wave(later, "b")
        late = fmt.Entry(at=at, usage=fmt.UsageEvent(id="late", customer="t0", event_type="job", properties={"h": 1}))
        refused = await runner.submit(entry_input(runner.runtimes[0].catalog, late, None, "$.late"))
        assert refused.error == ("input late: $.at: 2026-01-10T00:00:00Z is late: this engine is at "
                                 "2026-01-20T00:00:00Z (inputs arrive in time order)")
        await runner.close()
    await runner.finish()
    for tree in range(4):
        actor = runner.customer(f"t{tree}")
        assert Results(runner.runtime_of(f"t{tree}")).grant(f"t{tree}", "k").remaining == 0
        # 50 events at 1.00 x 10 h = 500.00 drew the commit; 50 later ones at 2.00 = 1,000.00.
        assert actor.invoices[0].rounded_total(8, 2) == (500 + 1000) * 10**8
    book.close()
    assert verify_file(tmp_path / "trees.sqlite") == []


def scenarios_amount(text: str):
    from meterbook.scenarios.types import Amount

    return Amount(text)


async def test_live_set_parent_across_trees_is_refused(tmp_path: Path) -> None:
    from meterbook.scenarios import format as fmt
    from meterbook.scenarios import load_text, parse_at

    text = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: c, type: usage, metric: {event_type: job, aggregation: count}}]
rate_cards: [{id: r, rates: [{product: c, price: "1.00"}]}]
customers: [{id: a, contract: {rate_card: r}}, {id: b, contract: {rate_card: r}}]
"""
    scenario = load_text(text, "t.yaml")
    book = Book(tmp_path / "t.sqlite")
    runner = LiveRunner(scenario, book, ManualClock(parse_at("2026-01-05")), tick_s=0.01)
    move = fmt.Entry(at=parse_at("2026-01-05"), set_parent=fmt.SetParent(customer="b", parent="a"))
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        before = book.last_posted
        ack = await runner.submit(entry_input(runner.runtimes[0].catalog, move, 0, "$.move"))
        await runner.close()
    assert ack.error == "input timeline-0: $.parent: unknown customer 'a'"
    assert runner.runtime_of("b").parent["b"] is None
    assert book.last_posted == before
    book.close()
