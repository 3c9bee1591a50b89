"""Crash consistency: a live runner in a child process is killed with SIGKILL at random
moments while it ingests, and restarted each time (by replaying its journal).

Every input acknowledged in any run is in the journal exactly once (an acknowledgement is
only printed once `submit` returned, so it must be durable even if the process dies the next
instant); an input resubmitted after it was made durable is answered as a duplicate; the
file verifies; and a runner opened on it afterwards replays to exactly the stored ledger,
which an independent simulation of the journal computes byte for byte."""

from __future__ import annotations

import collections
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec

from meterbook.engine import inputs as ins
from meterbook.engine.clock import ManualClock
from meterbook.engine.live import LiveRunner
from meterbook.engine.results import Results
from meterbook.ledger import Book, export_lines
from meterbook.scenarios import format as fmt
from meterbook.scenarios import load_text
from meterbook.scenarios.types import Amount, At
from tests.live_support import live_inputs, simulate_journal_results

CHILD = Path(__file__).with_name("kill_child.py")
KILLS = 12
PRODUCERS = 8
EVENTS = 2_400
HANG_S = 120.0  # only a guard against a hung child: nothing here depends on how long a run takes
DAY = 86_400_000_000

# Pooled seat credits (three organisations), a parent whose prepaid commit two of its children
# share (a third is paid for by the parent), and a customer moved under the parent mid-run.
SETUP = """
meterbook: 1
name: kill test
start: 2026-01-01
end: 2026-06-01
credit_types:
  - {id: ai_credit, decimals: 0, fiat_per_credit: "0.01"}
products:
  - {id: team_seat, type: subscription}
  - {id: ai, type: usage, metric: {event_type: ai_request, aggregation: sum, property: credits}}
  - {id: compute, type: usage, metric: {event_type: job, aggregation: sum, property: hours}}
rate_cards:
  - id: standard
    rates:
      - {product: team_seat, price: "10.00"}
      - {product: ai, price: "1", credit_type: ai_credit}
      - {product: compute, price: "0.10"}
packages:
  - id: team
    rate_card: standard
    subscriptions: [{id: seats, product: team_seat, seat_based: true, proration: true}]
    recurring_credits:
      - {credit_type: ai_credit, amount: "100", per_seat_of: seats, allocation: pooled, priority: 1}
customers:
  - {id: org0, package: team, seats: [a, b, c]}
  - {id: org1, package: team, seats: [a, b, c, d]}
  - {id: org2, package: team, seats: [a, b]}
  - id: globalcorp
    contract:
      rate_card: standard
      commits:
        - {id: shared, type: prepaid, amount: "5000.00", priority: 10, start: 2026-01-01, end: 2027-01-01,
           invoice: [{at: 2026-01-01, amount: "5000.00"}], child_access: [north, south]}
  - {id: north, parent: globalcorp, payer: self, contract: {rate_card: standard}}
  - id: south
    parent: globalcorp
    payer: self
    contract:
      rate_card: standard
      credits: [{id: welcome, amount: "200.00", priority: 5, start: 2026-01-01, end: 2027-01-01}]
  - {id: labs, parent: globalcorp, payer: parent, contract: {rate_card: standard}}
  - {id: west, contract: {rate_card: standard}}
"""
ORGS = {"org0": ["a", "b", "c"], "org1": ["a", "b", "c", "d"], "org2": ["a", "b"]}
TREE = ["globalcorp", "north", "south", "labs", "west"]


def kill_inputs(seed: int) -> tuple[int, list[ins.Input]]:
    """The customers' start and every input of the run: the catalog and customers as create
    inputs, then usage, seat changes, a credit purchase and a move, seeded. Their instants are
    the scenario's; the runner stamps each with its arrival anyway."""
    scenario = load_text(SETUP, "kill.yaml")
    rng = random.Random(seed)
    at = int(scenario.start)
    entries: list[fmt.Entry] = []
    for n in range(EVENTS):
        at += 60_000_000
        if n % 300 == 150:
            org = f"org{n % 3}"
            entries.append(fmt.Entry(at=At(at), id=f"seat{n}", add_seats=fmt.SeatChange(
                customer=org, subscription="seats", seats=[f"new{n}"])))
        elif n == 700:
            entries.append(fmt.Entry(at=At(at), id="move-west", set_parent=fmt.SetParent(
                customer="west", parent="globalcorp", payer="parent")))
        elif n == 900:
            entries.append(fmt.Entry(at=At(at), id="topup", buy_credits=fmt.BuyCredits(
                customer="org1", credit_type="ai_credit", amount=Amount(500), price=Amount("4.00"),
                priority=2, end=At(scenario.start + 365 * DAY), id="topup")))
        elif n % 2:
            org = f"org{rng.randrange(3)}"
            entries.append(fmt.Entry(at=At(at), usage=fmt.UsageEvent(
                id=f"e{n}", customer=org, event_type="ai_request",
                properties={"credits": rng.randrange(1, 60), "user": rng.choice(ORGS[org])})))
        else:
            entries.append(fmt.Entry(at=At(at), usage=fmt.UsageEvent(
                id=f"e{n}", customer=rng.choice(TREE), event_type="job",
                properties={"hours": rng.randrange(1, 2_000)})))
    items = live_inputs(msgspec.structs.replace(scenario, timeline=entries))
    assert len({i.id for i in items}) == len(items)
    return scenario.start, items


_ENCODE = msgspec.json.Encoder(enc_hook=lambda obj: int(obj) if isinstance(obj, int) else str(obj)).encode


class Child:
    """One run of tests/kill_child.py; a thread collects what it prints."""

    def __init__(self, ledger: Path, items: list[ins.Input], start_us: int, work: Path, run: int) -> None:
        inputs = work / f"inputs-{run}.jsonl"
        inputs.write_bytes(b"".join(_ENCODE(i) + b"\n" for i in items))
        self.stderr_path = work / f"stderr-{run}.txt"
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(CHILD), str(ledger), str(inputs), str(start_us), str(PRODUCERS)],
                stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.lines: list[str] = []
        self.eof = False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.eof = True
            self.changed.notify_all()

    def acks(self) -> list[tuple[str, str]]:
        return [(line.split()[0], line.split()[1]) for line in self.lines if line.split()[0] not in ("ready", "done")]

    def wait(self, acks: int, timeout: float) -> None:
        """Until `acks` acknowledgements are printed, the child ends, or `timeout` passes."""
        with self.changed:
            self.changed.wait_for(lambda: self.eof or len(self.acks()) >= acks, timeout)

    def end(self) -> int:
        """Wait for the child to end and its output to be read; its exit status."""
        self.proc.wait(timeout=HANG_S)
        self.reader.join(timeout=HANG_S)
        assert self.eof
        return self.proc.returncode

    def crashed(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]


def journal_ids(path: Path) -> list[str]:
    """The ids in the journal, read without writing to the file (no recovery, no checkpoint
    by this process: the next child finds the file as the killed one left it)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        bodies = [str(body) for (body,) in conn.execute("SELECT body FROM inputs ORDER BY seq")]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # killed before the schema was committed
            return []
        raise
    finally:
        conn.close()
    return [msgspec.json.decode(body, type=ins.AnyInput).id for body in bodies]


def test_a_live_runner_killed_at_random_moments_loses_and_repeats_nothing(tmp_path: Path) -> None:
    rng = random.Random(20260101)
    start_us, items = kill_inputs(seed=7)
    by_id = {i.id: i for i in items}
    ledger = tmp_path / "live.sqlite"
    pending = list(items)  # never acknowledged yet
    acked: set[str] = set()
    accepted = collections.Counter[str]()
    stats = collections.Counter[str]()
    run = kills = 0
    while True:
        final = kills >= KILLS or run >= 3 * KILLS
        durable = set(journal_ids(ledger))
        # Some inputs acknowledged before are sent again: a client that never saw the answer.
        again = rng.sample(sorted(acked), min(len(acked), rng.randint(5, 20)))
        batch = list(pending)
        for iid in again:
            batch.insert(rng.randrange(len(batch) + 1), by_id[iid])
        child = Child(ledger, batch, start_us, tmp_path, run)
        if not final:
            if run == 0 or rng.random() < 0.25:
                # Any moment from the start: importing, opening or creating the file, replaying
                # the journal, or ingesting.
                child.wait(len(batch) + 1, rng.uniform(0.0, 1.2))
                stats["kills at a random instant"] += 1
            else:
                # After some acknowledgements, with other inputs in flight: mid-round or mid-commit.
                child.wait(rng.randint(1, min(250, max(1, len(pending) // 3))), HANG_S)
                time.sleep(rng.uniform(0.0, 0.004))
                stats["kills after n acks"] += 1
            child.proc.send_signal(signal.SIGKILL)
        status = child.end()
        if final:
            assert status == 0, child.crashed()
            assert child.lines[-1] == "done"
        else:
            assert status in (0, -signal.SIGKILL), child.crashed()
            kills += status == -signal.SIGKILL
        ready = [line for line in child.lines if line.startswith("ready ")]
        if ready:  # it got as far as restarting: it replayed exactly the journal
            assert ready[0] == f"ready {len(durable)}"
        after = journal_ids(ledger)
        assert len(after) == len(set(after))
        seen = set(after)
        for iid, answer in child.acks():
            # Durable before this run: a duplicate, whether or not its answer was ever seen.
            assert answer == ("duplicate" if iid in durable else "accepted"), (run, iid, answer)
            assert iid in seen, f"run {run}: {iid} acknowledged {answer} but not in the journal"
            if answer == "accepted":
                accepted[iid] += 1
            elif iid in acked:
                stats["resubmitted acks answered duplicate"] += 1
            else:
                stats["unacknowledged but durable, answered duplicate"] += 1
            acked.add(iid)
        stats["acks"] += len(child.acks())
        stats["resubmitted"] += len(again)
        pending = [i for i in pending if i.id not in acked]
        run += 1
        if final:
            break

    assert kills >= 10, kills
    assert pending == []
    # Every input acknowledged as accepted exactly once over all runs, and journaled once.
    assert max(accepted.values()) == 1
    journal = journal_ids(ledger)
    assert sorted(journal) == sorted(by_id)
    assert set(accepted) <= set(journal)
    assert stats["resubmitted acks answered duplicate"] > 0

    done = subprocess.run([sys.executable, "-m", "meterbook", "ledger", "verify", str(ledger)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    # A runner opened on the file replays the journal and compares it with the stored ledger
    # (a difference refuses the start); an independent simulation computes the same ledger.
    book = Book(ledger, durable=True)
    runner = LiveRunner(book, ManualClock(start_us), grace_seconds=0)
    assert runner.replayed == len(items)
    stored = export_lines(book.conn)
    restarted = msgspec.json.encode(Results(runner.runtime).invoices())
    book.close()
    simulated, invoices = simulate_journal_results(ledger, tmp_path / "sim.sqlite")
    assert stored == simulated
    assert restarted == msgspec.json.encode(invoices)
    assert len(invoices) >= 8 * 2  # at least two periods of every customer were billed

    report = (f"kill test: {run} runs, {kills} kills ({stats['kills at a random instant']} at a random instant, "
              f"{stats['kills after n acks']} after n acks), {len(items)} inputs, {stats['acks']} acks, "
              f"{stats['resubmitted']} resubmitted, {stats['resubmitted acks answered duplicate']} answered "
              f"duplicate after their ack, {stats['unacknowledged but durable, answered duplicate']} durable before "
              f"their ack was seen, {len(invoices)} invoices")
    print(report)


# A child that dies (SIGKILL) as SQLite starts creating the `postings` table of a new ledger:
# the tables before it in schema.sql were committed one by one before the fix.
_DIES_CREATING = """
import os, signal, sqlite3, sys
from meterbook.ledger import Book

connect = sqlite3.connect

def dying(*args, **kwargs):
    conn = connect(*args, **kwargs)
    def trace(sql):
        if "CREATE TABLE IF NOT EXISTS postings" in sql:
            os.kill(os.getpid(), signal.SIGKILL)
    conn.set_trace_callback(trace)
    return conn

sqlite3.connect = dying
Book(sys.argv[1], durable=True)
"""


def test_a_runner_killed_while_it_creates_its_file_restarts(tmp_path: Path) -> None:
    """The schema is created in one SQLite transaction: a kill halfway leaves no table rather
    than some, which every later open refused as "not a meterbook ledger (tables missing)"."""
    ledger = tmp_path / "new.sqlite"
    died = subprocess.run([sys.executable, "-c", _DIES_CREATING, str(ledger)], capture_output=True, check=False)
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    conn = sqlite3.connect(ledger)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    conn.close()
    book = Book(ledger, durable=True)
    runner = LiveRunner(book, ManualClock(0), grace_seconds=0)
    assert runner.replayed == 0
    book.close()
