"""Run settings in the ledger's `meta` table: what a journal needs, beside its inputs, to be
written back out as a scenario (the name, seed, currency, window and grace of the run; the seed
changes nothing on replay, as generated usage is journaled, but the results name it).

Written through `Book.set_meta`, so each lands in the same SQLite transaction as the next
batch of postings; read back by `read_settings` (the journal export)."""

from __future__ import annotations

import sqlite3

import msgspec

from meterbook.ledger import Book
from meterbook.scenarios import Scenario

# The keys, as stored (values are text).
NAME, SEED, CURRENCY, START_US, END_US, GRACE_SECONDS = "name", "seed", "currency", "start_us", "end_us", "grace_seconds"


class RunSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The settings of one ledger's run. `end_us`: the instant the run's timers have fired up
    to when it ended (a simulation: its horizon); None while a run has not recorded one."""

    name: str
    seed: int
    currency: str
    start_us: int
    end_us: int | None
    grace_seconds: int


def grace_of(scenario: Scenario) -> int:
    """The scenario's `grace_seconds` (0 while the format has no such field)."""
    return int(getattr(scenario, "grace_seconds", 0))


def record_start(book: Book, scenario: Scenario) -> None:
    """Queue the settings known when a run starts."""
    record(book, RunSettings(name=scenario.name, seed=scenario.seed, currency=scenario.currency,
                             start_us=int(scenario.start), end_us=None, grace_seconds=grace_of(scenario)))


def record(book: Book, settings: RunSettings) -> None:
    """Queue a run's settings (`end_us` only when it has one)."""
    book.set_meta(NAME, settings.name)
    book.set_meta(SEED, str(settings.seed))
    book.set_meta(CURRENCY, settings.currency)
    book.set_meta(START_US, str(settings.start_us))
    book.set_meta(GRACE_SECONDS, str(settings.grace_seconds))
    if settings.end_us is not None:
        record_end(book, settings.end_us)


def record_end(book: Book, end_us: int) -> None:
    """Queue the instant the run finished at (written with the run's last batch)."""
    book.set_meta(END_US, str(int(end_us)))


class SettingsError(Exception):
    """The meta table lacks a setting, or holds one that is not what it should be."""


def read_settings(conn: sqlite3.Connection) -> RunSettings:
    """The settings stored in a ledger; SettingsError names a missing or malformed one."""
    rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())

    def text(key: str) -> str:
        value = rows.get(key)
        if value is None:
            raise SettingsError(f"records no {key} (a ledger written before run settings were recorded?)")
        return str(value)

    def number(key: str) -> int:
        value = text(key)
        try:
            return int(value)
        except ValueError:
            raise SettingsError(f"records {key} as {value!r}, not an integer") from None

    end = number(END_US) if END_US in rows else None
    grace = number(GRACE_SECONDS) if GRACE_SECONDS in rows else 0
    seed = number(SEED) if SEED in rows else 0
    return RunSettings(name=rows.get(NAME, ""), seed=seed, currency=text(CURRENCY), start_us=number(START_US),
                       end_us=end, grace_seconds=grace)
