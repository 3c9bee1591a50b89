"""End-to-end simulation throughput: rating, drawdown, ledger writes and invoices.

Builds a seeded scenario in memory and streams its usage through the engine in time order
(the same path the live runner uses), so memory stays bounded by the batch, not the run.
Prints figures; the last line is `events/s: N`."""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from meterbook.engine.from_scenario import build_catalog, declared_inputs, entry_input
from meterbook.engine.inputs import CreateCustomer
from meterbook.engine.runtime import quiet_gc
from meterbook.engine.simulate import runtime_for
from meterbook.engine.trees import account_trees
from meterbook.ledger import Book, verify_file
from meterbook.scenarios import format as fmt
from meterbook.scenarios.types import Amount, parse_at

DAY_US = 86_400_000_000


def build(customers: int, mode: str, seats: int) -> fmt.Scenario:
    """A scenario with `customers` accounts; mode picks the capability under load."""
    start, end = parse_at("2026-01-01"), parse_at("2026-03-01")
    products = [
        fmt.Product(id="platform", type="subscription"),
        fmt.Product(id="seat", type="subscription"),
        fmt.Product(id="api", type="usage", metric=fmt.Metric(event_type="api_call", aggregation="sum", property="calls")),
        fmt.Product(id="compute", type="usage", metric=fmt.Metric(event_type="job", aggregation="sum", property="hours")),
        fmt.Product(id="ai", type="usage", metric=fmt.Metric(event_type="prompt", aggregation="sum", property="credits")),
    ]
    card = fmt.RateCard(id="std", rates=[
        fmt.Rate(product="platform", price=Amount("100.00")),
        fmt.Rate(product="seat", price=Amount("30.00")),
        fmt.Rate(product="api", tiers=[fmt.Tier(up_to=Amount("10000"), price=Amount("0.001")),
                                       fmt.Tier(price=Amount("0.0005"))]),
        fmt.Rate(product="compute", price=Amount("0.10")),
        fmt.Rate(product="ai", price=Amount("1"), credit_type="ai_credit"),
    ])
    credit_types = [fmt.CreditType(id="ai_credit", decimals=0, fiat_per_credit=Amount("0.01"))]
    custs: list[fmt.Customer] = []
    if mode == "seats":
        pkg = fmt.Package(id="team", rate_card="std",
                          subscriptions=[fmt.Subscription(id="seats", product="seat", seat_based=True)],
                          recurring_credits=[fmt.RecurringCredit(credit_type="ai_credit", amount=Amount("500"),
                                                                 per_seat_of="seats", allocation="individual")])
        for i in range(customers):
            custs.append(fmt.Customer(id=f"org{i}", package="team", seats=[f"u{j}" for j in range(seats)]))
        return fmt.Scenario(meterbook=1, start=start, end=end, credit_types=credit_types, products=products,
                            rate_cards=[card], packages=[pkg], customers=custs)
    if mode == "hierarchy":
        parents = max(1, customers // 101)
        for p in range(parents):
            custs.append(fmt.Customer(id=f"p{p}", contract=fmt.Contract(rate_card="std", commits=[
                fmt.Commit(id="shared", type="prepaid", amount=Amount("5000.00"), start=start,
                           end=parse_at("2027-01-01"), child_access="all",
                           invoice=[fmt.InvoiceItem(at=start, amount=Amount("5000.00"))])])))
            for c in range(100):
                custs.append(fmt.Customer(id=f"p{p}c{c}", parent=f"p{p}", payer="self",
                                          contract=fmt.Contract(rate_card="std")))
        return fmt.Scenario(meterbook=1, start=start, end=end, credit_types=credit_types, products=products,
                            rate_cards=[card], customers=custs)
    for i in range(customers):
        custs.append(fmt.Customer(id=f"c{i}", contract=fmt.Contract(
            rate_card="std",
            subscriptions=[fmt.Subscription(id="platform", product="platform", quantity=1)],
            credits=[fmt.Credit(id="trial", amount=Amount("20.00"), priority=1, start=start, end=parse_at("2026-02-01"))],
            commits=[fmt.Commit(id="prepay", type="prepaid", amount=Amount("300.00"), priority=2, start=start,
                                end=parse_at("2026-04-01"), products=["compute"],
                                invoice=[fmt.InvoiceItem(at=start, amount=Amount("300.00"))])])))
    return fmt.Scenario(meterbook=1, start=start, end=end, credit_types=credit_types, products=products,
                        rate_cards=[card], customers=custs)


def events(s: fmt.Scenario, total: int, mode: str, seed: int) -> Iterator[fmt.Entry]:
    """`total` usage entries in time order over the window, seeded."""
    rng = random.Random(seed)
    span = s.end - s.start
    step = span // total
    ids = [c.id for c in s.customers if mode != "hierarchy" or c.parent is not None]
    seats = {c.id: c.seats for c in s.customers}
    for n in range(total):
        at = s.start + n * step
        cid = ids[rng.randrange(len(ids))]
        if mode == "seats":
            props = {"credits": rng.randrange(1, 40), "user": seats[cid][rng.randrange(len(seats[cid]))]}
            yield fmt.Entry(at=at, usage=fmt.UsageEvent(id=f"e{n}", customer=cid, event_type="prompt", properties=props))
        elif n % 2:
            yield fmt.Entry(at=at, usage=fmt.UsageEvent(id=f"e{n}", customer=cid, event_type="api_call",
                                                        properties={"calls": rng.randrange(1, 500)}))
        else:
            yield fmt.Entry(at=at, usage=fmt.UsageEvent(id=f"e{n}", customer=cid, event_type="job",
                                                        properties={"hours": rng.randrange(1, 20)}))


def run_partition(args: argparse.Namespace, trees: list[frozenset[str]] | None, path: str) -> dict:
    """Simulate the scenario's events for some account trees (all when `trees` is None)."""
    scenario = build(args.customers, args.mode, args.seats)
    only = frozenset().union(*trees) if trees is not None else None
    gc.freeze()
    t0 = time.perf_counter()
    book = Book(path, bulk=True)
    runtime = runtime_for(scenario, book)
    catalog = build_catalog(scenario)  # for converting the events
    for create in declared_inputs(scenario):
        if only is None or not isinstance(create, CreateCustomer) or create.customer in only:
            runtime.apply(create)
    n = 0
    with quiet_gc():
        # The seam, as simulation uses it: advance_to + apply per input.
        for entry in events(scenario, args.events, args.mode, args.seed):
            assert entry.usage is not None
            if only is not None and entry.usage.customer not in only:
                continue
            n += 1
            item = entry_input(catalog, entry, None, "$.bench")
            runtime.advance_to(item.at_us, item.phase)
            answer = runtime.apply(item)
            if answer.status != "accepted":
                raise SystemExit(f"bench input refused: {answer}")
    runtime.finish()
    book.build_indexes()  # timed: a bulk run builds the deferred index at its end
    elapsed = time.perf_counter() - t0
    customers = runtime.customers.values()
    out = {"events": n, "elapsed": elapsed, "invoices": sum(len(c.invoices) for c in customers),
           "transactions": book.next_txn - 1, "denied": sum(c.denied for c in customers),
           "customers": len(customers)}
    book.close()
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    problems = verify_file(path)
    out["verify"] = "ok" if not problems else problems[0]
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--mode", choices=["usage", "seats", "hierarchy"], default="usage")
    ap.add_argument("--seats", type=int, default=50, help="seats per organisation (mode seats)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=1,
                    help="processes; account trees are split among them (DESIGN.md scale-out), each "
                         "writing its own ledger file")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="meterbook-bench-")
    print(f"mode: {args.mode}  customers: {args.customers}  events: {args.events}  workers: {args.workers}")
    t0 = time.perf_counter()
    if args.workers == 1:
        parts = [run_partition(args, None, str(Path(tmp.name) / "ledger.sqlite"))]
    else:
        trees = account_trees(build(args.customers, args.mode, args.seats))
        shares = [trees[i::args.workers] for i in range(args.workers)]
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(run_partition, args, share, str(Path(tmp.name) / f"ledger-{i}.sqlite"))
                       for i, share in enumerate(shares)]
            parts = [f.result() for f in futures]
    wall = time.perf_counter() - t0
    total = sum(p["events"] for p in parts)
    for i, p in enumerate(parts):
        print(f"partition {i}: customers {p['customers']}  events {p['events']}  invoices {p['invoices']}  "
              f"ledger transactions {p['transactions']}  denied {p['denied']}  verify {p['verify']}  "
              f"{p['elapsed']:.2f} s  peak RSS {p['peak_mib']:.0f} MiB")
    print(f"elapsed (wall, all partitions): {wall:.2f} s")
    print(f"events/s: {total / wall:.0f}")


if __name__ == "__main__":
    main()
