"""Durable live ingest: producers submit usage to a live runner on a real file
(`synchronous=FULL`, WAL) on the wall clock; every acknowledgement waits for its commit.

Prints events/s, commits (rounds) and the mean inputs per commit. Usage:
    python bench/live_ingest.py --customers 1000 --producers 16 --events 100000 [--per-submit 100]"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import trio

from meterbook.actors.catalog import FOREVER, ContractTerms, GrantTemplate, Metric, Product, Unit, make_price
from meterbook.engine import inputs as ins
from meterbook.engine.clock import WallClock
from meterbook.engine.live import LiveRunner
from meterbook.ledger import Book, verify_file

USD = Unit(id="USD", decimals=2, is_currency=True)


def setup(n_customers: int, at: int) -> list[ins.Input]:
    """A product, a rate card, and customers with a prepaid commit each."""
    job = Product(id="api", name="API", kind="usage", metric=Metric("call", "sum", "n", ()))
    out: list[ins.Input] = [
        ins.CreateProduct(id="p-api", at_us=at, product=job),
        ins.CreateRateCard(id="rc", at_us=at, rate_card="std",
                           rates=(ins.RateTerms("api", -FOREVER, make_price(USD, Decimal("0.002"), None)),)),
    ]
    commit = GrantTemplate(id="k", kind="commit", commit_type="prepaid", unit="USD", amount=Decimal("100.00"),
                           priority=1, start=None, end=None, months=None, products=None, child_access="none",
                           invoice=((None, Decimal("100.00")),))
    terms = ContractTerms(rate_card="std", overrides=(), subscriptions=(), grants=(commit,), recurring=(),
                          on_exhausted="bill")
    out += [ins.CreateCustomer(id=f"c{i}", at_us=at, customer=f"c{i}", name=f"c{i}", terms=terms)
            for i in range(n_customers)]
    return out


async def run(args: argparse.Namespace, path: Path) -> dict[str, float]:
    clock = WallClock()
    book = Book(path, durable=True)
    runner = LiveRunner(book, clock, max_batch=args.batch, tick_s=0.05)
    per = args.events // args.producers
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        for item in setup(args.customers, clock.now_us()):
            ack = await runner.submit(item)
            assert ack.accepted, ack.error
        rounds0 = runner.rounds

        def event(p: int, n: int) -> ins.Input:
            return ins.RecordUsage(id=f"e{p}-{n}", at_us=0, customer=f"c{(p * per + n) % args.customers}",
                                   event_type="call", properties={"n": 1 + n % 7})

        async def producer(p: int) -> None:
            for first in range(0, per, args.per_submit):
                batch = [event(p, n) for n in range(first, min(first + args.per_submit, per))]
                for ack in await runner.submit_many(batch):
                    if not ack.accepted:
                        raise RuntimeError(ack.error)

        t0 = time.perf_counter()
        async with trio.open_nursery() as producers:
            for p in range(args.producers):
                producers.start_soon(producer, p)
        elapsed = time.perf_counter() - t0
        rounds = runner.rounds - rounds0
        await runner.close()
    book.close()
    return {"events": per * args.producers, "elapsed": elapsed, "rounds": rounds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=1_000)
    ap.add_argument("--producers", type=int, default=16)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1_000, help="most inputs the sequencer applies per round")
    ap.add_argument("--per-submit", type=int, default=1, help="events each producer submits at once")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="meterbook-live-") as tmp:
        path = Path(tmp) / "live.sqlite"
        out = trio.run(run, args, path)
        problems = verify_file(path)
    print(f"customers: {args.customers}  producers: {args.producers}  events per submit: {args.per_submit}  "
          f"events: {out['events']:.0f}")
    print(f"elapsed: {out['elapsed']:.2f} s  commits: {out['rounds']:.0f}  "
          f"inputs per commit: {out['events'] / max(out['rounds'], 1):.1f}")
    print(f"durable events/s: {out['events'] / out['elapsed']:.0f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB  verify: "
          f"{'ok' if not problems else problems[0]}")


if __name__ == "__main__":
    main()
