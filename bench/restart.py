"""Restart time of a live ledger: how long opening a LiveRunner on a file with a journal takes
(the journal replayed through the engine, every batch compared with the stored ledger).

Builds the file the way a live runner writes it (a LiveRunner on a manual clock, fed by many
concurrent producers so rounds are large): the catalog and `--customers` customers as create
inputs (bench/throughput.py's usage mix: a subscription, a trial credit and a prepaid commit
each), then usage events (API calls on a tiered rate, compute jobs) until the journal holds
`--inputs` inputs. Then, in a fresh process, times `LiveRunner(Book(path, durable=True), ...)`
and reports inputs/s, peak RSS, and the time split: journal read + decode (timed in a separate
pass), comparison with the stored ledger (timed inside the replay), and the rest (the engine
applying inputs and firing timers). `--profile` adds a cProfile run of the restart (top 15).
The last line is `inputs/s: N`."""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import trio

from meterbook.engine import inputs as ins
from meterbook.engine import live
from meterbook.engine.clock import ManualClock
from meterbook.engine.from_scenario import (
    build_catalog,
    customer_inputs,
    entry_input,
    product_of,
    rates_of,
    terms_of,
    unit_of,
)
from meterbook.engine.live import LIVE_GRACE_SECONDS, LiveRunner, journal_rows
from meterbook.ledger import Book
from meterbook.ledger import book as book_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import build, events  # bench/ is not a package: its own folder on the path

PRODUCERS = 1_000


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def live_inputs(customers: int, total: int, seed: int) -> tuple[list[ins.Input], list[ins.Input], Iterator[ins.Input]]:
    """The catalog, the customers and the usage a live ledger of `total` inputs receives."""
    s = build(customers, "usage", 0)
    conv = build_catalog(s, with_created=True)
    at = s.start
    catalog: list[ins.Input] = [ins.CreateCreditType(id=f"credit_type:{ct.id}", at_us=at, unit=unit_of(ct))
                                for ct in s.credit_types]
    catalog += [ins.CreateProduct(id=f"product:{p.id}", at_us=at, product=product_of(p)) for p in s.products]
    catalog += [ins.CreateRateCard(id=f"rate_card:{c.id}", at_us=at, rate_card=c.id, rates=rates_of(conv, c))
                for c in s.rate_cards]
    catalog += [ins.CreatePackage(id=f"package:{p.id}", at_us=at, package=p.id, terms=terms_of(conv, p))
                for p in s.packages]
    people: list[ins.Input] = list(customer_inputs(conv, s))
    usage = max(0, total - len(catalog) - len(people))
    stream = (entry_input(conv, e, None, "$.bench") for e in events(s, usage, "usage", seed))
    return catalog, people, stream


async def feed(runner: LiveRunner, clock: ManualClock, items: Iterator[ins.Input]) -> int:
    """Submit from many producers sharing one iterator, the clock following the inputs'
    instants; returns how many were not accepted."""
    refused = 0

    async def producer() -> None:
        nonlocal refused
        for item in items:
            clock.set(max(clock.now_us(), item.at_us))
            ack = await runner.submit(item)
            refused += not ack.accepted

    async with trio.open_nursery() as nursery:
        for _ in range(PRODUCERS):
            nursery.start_soon(producer)
    return refused


def build_ledger(path: str, customers: int, total: int, seed: int) -> dict[str, Any]:
    """A live ledger file of `total` journaled inputs, written by a LiveRunner."""
    t0 = time.perf_counter()
    catalog, people, stream = live_inputs(customers, total, seed)
    start = catalog[0].at_us
    clock = ManualClock(start)
    book = Book(path, durable=True)
    runner = LiveRunner(book, clock, max_batch=10_000)

    async def main() -> int:
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.serve)
            refused = 0
            for item in catalog:  # one by one: products before the rate card naming them
                refused += not (await runner.submit(item)).accepted
            refused += await feed(runner, clock, iter(people))
            refused += await feed(runner, clock, stream)
            await runner.close()
        return refused

    refused = trio.run(main)
    book.close()
    return {"elapsed": time.perf_counter() - t0, "refused": refused, "rounds": runner.rounds,
            "transactions": book.next_txn - 1, "peak_mib": peak_mib()}


def restart(path: str, use_snapshot: bool) -> dict[str, Any]:
    """Open a runner on the file (replay and compare; from its snapshot if `use_snapshot`),
    timed and measured."""
    spent = {"compare": 0.0}

    def timed(fn: Callable[..., None]) -> Callable[..., None]:
        def wrapper(*args: Any) -> None:
            t = time.perf_counter()
            try:
                fn(*args)
            finally:
                spent["compare"] += time.perf_counter() - t
        return wrapper

    book_module.compare_stored = timed(book_module.compare_stored)  # type: ignore[attr-defined]
    book_module.check_no_more = timed(book_module.check_no_more)  # type: ignore[attr-defined]
    base = peak_mib()
    t0 = time.perf_counter()
    book = Book(path, durable=True)
    opened = time.perf_counter() - t0
    runner = LiveRunner(book, ManualClock(0), grace_seconds=LIVE_GRACE_SECONDS, use_snapshot=use_snapshot)
    elapsed = time.perf_counter() - t0
    peak = peak_mib()
    if use_snapshot:
        book.close()
        return {"replayed": runner.replayed, "elapsed": elapsed, "open": opened, "compare": spent["compare"],
                "decode": 0.0, "base_mib": base, "peak_mib": peak, "from_snapshot": runner.from_snapshot}
    # The journal read and decoded alone (warm cache, as the replay left it).
    t1 = time.perf_counter()
    for _, _, body in journal_rows(book):
        live._DECODE(body)
    decode = time.perf_counter() - t1
    book.close()
    return {"replayed": runner.replayed, "elapsed": elapsed, "open": opened, "compare": spent["compare"],
            "decode": decode, "base_mib": base, "peak_mib": peak, "from_snapshot": False}


def profile(path: str, top: int) -> str:
    """cProfile of one restart: the `top` functions by own time."""
    book = Book(path, durable=True)
    prof = cProfile.Profile()
    prof.enable()
    LiveRunner(book, ManualClock(0), grace_seconds=LIVE_GRACE_SECONDS)
    prof.disable()
    book.close()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def in_process(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` in a fresh process, so its peak RSS is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def main(argv: list[str] | None = None) -> None:
    """Build a live ledger, restart a runner on it, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--inputs", type=int, default=100_000, help="journal length (creates included)")
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="also profile a restart (cProfile, top 15)")
    ap.add_argument("--keep", type=Path, help="build the ledger here and keep it (reused if it exists)")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="meterbook-restart-")
    path = str(args.keep or Path(tmp.name) / "live.sqlite")
    print(f"inputs: {args.inputs}  customers: {args.customers}")
    if not Path(path).exists():
        b = in_process(build_ledger, path, args.customers, args.inputs, args.seed)
        print(f"build (LiveRunner, {PRODUCERS} producers): {b['elapsed']:.1f} s  rounds {b['rounds']}  "
              f"refused {b['refused']}  ledger transactions {b['transactions']}  peak RSS {b['peak_mib']:.0f} MiB")
    size = sum(p.stat().st_size for p in Path(path).parent.glob(Path(path).name + "*"))
    print(f"ledger file: {size / 2**20:.0f} MiB")
    r = in_process(restart, path, False)
    n, t = r["replayed"], r["elapsed"]
    rest = t - r["open"] - r["compare"] - r["decode"]
    print(f"restart, whole journal: {n} inputs replayed in {t:.2f} s  peak RSS {r['peak_mib']:.0f} MiB "
          f"(after imports {r['base_mib']:.0f} MiB)")
    print(f"  open {r['open']:.2f} s; journal read + decode {r['decode']:.2f} s (a separate pass); "
          f"compare with the stored ledger {r['compare']:.2f} s; apply (engine, timers, posting) {rest:.2f} s")
    s = in_process(restart, path, True)
    print(f"restart from the snapshot: {'yes' if s['from_snapshot'] else 'none stored'}; {s['replayed']} inputs "
          f"replayed in {s['elapsed']:.2f} s (digest of the rows before it, unpickling, the tail)  "
          f"peak RSS {s['peak_mib']:.0f} MiB")
    if args.profile:
        print(in_process(profile, path, 15))
    print(f"inputs/s: {n / t:.0f}")


if __name__ == "__main__":
    main()
