"""A live runner in a process of its own, for tests/test_kill.py to kill with SIGKILL.

    python tests/kill_child.py LEDGER INPUTS START_US [PRODUCERS]

Opens (or restarts, by replay) a LiveRunner on LEDGER and submits the inputs of INPUTS (one
msgspec-encoded engine input per line): the create inputs first, one by one in file order
(customers start at START_US: usage must arrive after them), then everything else from
PRODUCERS concurrent Trio tasks. Prints `ready N` once the runner is open (N inputs
replayed), one line `ID STATUS` per acknowledgement, written and flushed only after `submit`
returned (so the input is durable), and `done` after a clean close.

The clock is deterministic and always moves forward: every reading is STEP after the last
one, starting past everything the file already holds, so a restarted child never stamps an
input before one of an earlier run and periods close as inputs arrive."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import trio

from meterbook.engine import inputs as ins
from meterbook.engine.live import Ack, LiveRunner
from meterbook.ledger import Book

STEP_US = 3_600_000_000  # an hour a reading: a few months over a test run
LEAD_US = 10 * 86_400_000_000  # a new file starts this long before the customers do
_DECODE = msgspec.json.Decoder(ins.AnyInput).decode


class StepClock:
    """Every reading is `step_us` after the previous one."""

    def __init__(self, now_us: int, step_us: int) -> None:
        self._next = now_us
        self.step_us = step_us

    def now_us(self) -> int:
        now = self._next
        self._next += self.step_us
        return now

    def at_least(self, now_us: int) -> None:
        """Move forward to `now_us` if it lies ahead."""
        self._next = max(self._next, now_us)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report(ack: Ack) -> None:
    assert ack.answer is not None
    say(f"{ack.answer.input_id} {ack.answer.status}")


async def producer(runner: LiveRunner, items: Iterator[ins.Input]) -> None:
    # The tasks share one iterator: each takes the next input when its last one is acknowledged.
    for item in items:
        report(await runner.submit(item))


async def run(ledger: Path, inputs: Path, start_us: int, producers: int) -> None:
    items: list[ins.Input] = [_DECODE(line) for line in inputs.read_bytes().splitlines() if line.strip()]
    creates = [i for i in items if type(i).__name__.startswith("Create")]
    rest = [i for i in items if not type(i).__name__.startswith("Create")]
    clock = StepClock(start_us - LEAD_US, STEP_US)
    book = Book(ledger, durable=True)
    runner = LiveRunner(book, clock, grace_seconds=0, max_batch=64, tick_s=0.02)
    clock.at_least(max(runner.last[0], runner.advanced) + 1)
    say(f"ready {runner.replayed}")
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.serve)
        for item in creates:
            report(await runner.submit(item))
        clock.at_least(start_us)
        shared = iter(rest)
        async with trio.open_nursery() as tasks:
            for _ in range(producers):
                tasks.start_soon(producer, runner, shared)
        await runner.close()
    book.close()
    say("done")


def main(argv: list[str]) -> None:
    ledger, inputs, start = argv[:3]
    producers = int(argv[3]) if len(argv) > 3 else 8
    trio.run(run, Path(ledger), Path(inputs), int(start), producers)


if __name__ == "__main__":
    main(sys.argv[1:])
