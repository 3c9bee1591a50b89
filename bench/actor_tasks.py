"""Live mode, two ways to host actors on Trio: one task per account tree (what meterbook does)
against one task per actor, measured on the same handlers and the same usage.

Per tree: the tree's task calls the handlers in-line, so a usage event's reserve -> commit
with its CreditPool is two function calls. Per actor: the Customer and its CreditPool are
each a Trio task with an inbox; the customer's reserve is a request/reply round trip to the
pool's task over memory channels (what `Mailbox.ask` would have to become). The work done is
the same (the real rating, drawdown and booking), only the hosting differs. Prints events/s
for each; nothing is committed to disk (the book stays in memory), so the figure is the
hosting cost alone.

    python bench/actor_tasks.py --events 20000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import trio

from meterbook.actors.messages import Drawn, Reserve, Usage
from meterbook.engine import inputs as ins
from meterbook.engine.from_scenario import declared_inputs
from meterbook.engine.simulate import runtime_for
from meterbook.ledger import Book
from meterbook.scenarios import load_text, parse_at

SCENARIO = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: api, type: usage, metric: {event_type: call, aggregation: sum, property: n}}]
rate_cards: [{id: r, rates: [{product: api, price: "0.001"}]}]
customers:
  - {id: c, contract: {rate_card: r, credits: [{id: cr, amount: "1000000.00"}]}}
"""


def fresh() -> Any:
    """A runtime with one customer whose credit pool pays every event."""
    scenario = load_text(SCENARIO, "bench.yaml")
    rt = runtime_for(scenario, Book(":memory:"))
    for item in declared_inputs(scenario):
        rt.apply(item)
    rt.advance_to(parse_at("2026-01-02"))
    return rt


async def per_tree(events: int) -> float:
    """One task owns the tree and applies each event in-line (reserve/commit are calls)."""
    rt = fresh()
    at = parse_at("2026-01-02")
    t0 = time.perf_counter()
    for n in range(events):
        rt.apply(ins.RecordUsage(id=f"e{n}", at_us=at, customer="c", event_type="call", properties={"n": 3}))
        if n % 1000 == 0:
            await trio.lowlevel.checkpoint()
    return events / (time.perf_counter() - t0)


async def per_actor(events: int) -> float:
    """The customer and its pool are separate tasks; the reserve is a channel round trip."""
    rt = fresh()
    customer = rt.customer("c")
    pool = rt.actor(customer.pool("USD"))
    assert pool is not None
    at = parse_at("2026-01-02")
    to_pool_send, to_pool_recv = trio.open_memory_channel[tuple[Reserve, trio.MemorySendChannel[Any]]](100)
    to_customer_send, to_customer_recv = trio.open_memory_channel[Usage](100)

    async def pool_task() -> None:
        async for msg, reply in to_pool_recv:
            await reply.send(pool.handle(msg, at))

    async def customer_task() -> None:
        reply_send, reply_recv = trio.open_memory_channel[Drawn](1)
        async for usage in to_customer_recv:
            products = customer.catalog.by_event_type[usage.event_type]
            rated = customer._rate(usage, products, customer.aggs)
            r = rated[0]
            await to_pool_send.send((Reserve(hold="", unit="USD", product=r.product.id, at_us=at, units=r.charge,
                                             requester="c", settle="commit", cause=usage.cause), reply_send))
            drawn = await reply_recv.receive()
            for t in drawn.takes:
                r.covered += t.units
            r.agg.commit(r.quantity, r.after)
            customer._book(usage, r, drawn.takes, at)
        await to_pool_send.aclose()

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pool_task)
        nursery.start_soon(customer_task)
        for n in range(events):
            await to_customer_send.send(Usage(id=f"e{n}", event_type="call", properties={"n": 3}, at_us=at,
                                                 cause=f"usage:e{n}"))
        await to_customer_send.aclose()
    return events / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    args = ap.parse_args()
    tree = trio.run(per_tree, args.events)
    actor = trio.run(per_actor, args.events)
    print(f"one task per tree (in-line handlers): {tree:,.0f} events/s")
    print(f"one task per actor (channel round trip per reserve): {actor:,.0f} events/s")
    print(f"per-actor cost / per-tree cost: {tree / actor:.2f}x")


if __name__ == "__main__":
    main()
