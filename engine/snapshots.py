"""Snapshots of a live runner's actors, so a restart replays only the journal after them.

A snapshot is the runtime (catalog, actors, timers, routing) pickled with the ledger handle
left out: every actor that holds the `Book` gets the restarted one back. It is a cache of what
the journal computes, never a source of truth: it is written only with everything before it
committed, it records the digest of the rows it follows (ledger/digest.py), and a restart
uses it only if the stored rows still hash to that digest, else it replays the whole journal
(which then names any row that differs). Pickle, not msgspec: the state is a graph of actors
sharing the catalog and the router, which pickle keeps as one graph; the file it comes from is
the ledger itself, trusted as much as the ledger is."""

from __future__ import annotations

import io
import pickle
from typing import Any

import msgspec

from meterbook.engine.runtime import Runtime, quiet_gc
from meterbook.ledger import Book

_BOOK = "book"


class RunnerState(msgspec.Struct, frozen=True):
    """What the live runner itself keeps beside its runtime: its order and horizon."""

    last_at: int
    last_phase: int
    advanced: int


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, book: Book) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.book = book

    def persistent_id(self, obj: Any) -> str | None:
        return _BOOK if obj is self.book else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, book: Book) -> None:
        super().__init__(file)
        self.book = book

    def persistent_load(self, pid: Any) -> Any:
        if pid != _BOOK:
            raise pickle.UnpicklingError(f"unknown reference {pid!r} in a snapshot")
        return self.book


def dump(runtime: Runtime, state: RunnerState) -> bytes:
    """The runtime and the runner's state as bytes (the Book left out)."""
    buf = io.BytesIO()
    with quiet_gc():  # a million live objects: collecting while walking them costs a third more
        _Pickler(buf, runtime.book).dump((runtime, msgspec.msgpack.encode(state)))
    return buf.getvalue()


def load(data: bytes, book: Book) -> tuple[Runtime, RunnerState]:
    """A runtime and runner state from `dump`, wired to `book`."""
    with quiet_gc():  # 2.9 s -> 1.1 s for the state of 10k customers after 900k inputs
        runtime, state = _Unpickler(io.BytesIO(data), book).load()
    if not isinstance(runtime, Runtime):
        raise pickle.UnpicklingError("a snapshot holds no runtime")
    return runtime, msgspec.msgpack.decode(state, type=RunnerState)
