"""`meterbook journal export`: a ledger's journal written out as the format-1 scenario it is
(DESIGN.md, "The journal is a scenario").

The file holds the run settings (`meta`: name, currency, start, end, grace) and a `timeline:`
with one entry per journaled input, in journal order, each converted by engine/to_scenario.py.
It streams: rows are read with one cursor and each entry is written on one line as a JSON
object, which YAML reads as a flow mapping; the few things JSON writes that YAML 1.1 reads
otherwise are rewritten (`_yaml_line`). The file appears only once it is complete."""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import msgspec

from meterbook.engine import inputs as ins
from meterbook.engine.settings import RunSettings, SettingsError, read_settings
from meterbook.engine.to_scenario import entry_of
from meterbook.errors import ScenarioError
from meterbook.scenarios.types import format_at, parse_at

# Lines per write: large enough that the file calls do not count, small enough to stream.
CHUNK = 20_000
# Characters YAML does not accept raw in a file (DEL, C1 controls, U+FFFE/U+FFFF) or reads as a
# line break (NEL U+0085, U+2028, U+2029), as UTF-8 bytes; JSON may write them raw inside
# strings, YAML takes \\u escapes.
_NOT_YAML = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xef\xbf[\xbe\xbf]|\xe2\x80[\xa8\xa9]")


class ExportError(ScenarioError):
    """A journal that cannot be written out as a scenario: the ledger file and why (bad
    input to the command: the CLI exits 2)."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(file, "$", reason)
        self.args = (f"{file}: {reason}",)


def export_journal(db: str | Path, out: str | Path, until: int | str | None = None) -> int:
    """Write the journal of the ledger `db` to `out` as a format-1 scenario and return how many
    timeline entries it holds. `until` (microseconds, or RFC 3339 text): only inputs before it,
    and the scenario ends there; else it ends where the run did (`end_us`)."""
    name = str(db)
    with closing(_open(Path(db), name)) as conn:
        settings = _settings(conn, name)
        end = _end(settings, until, name)
        target = Path(out)
        # Written beside the target and renamed over it: the file appears whole or not at all.
        # (Opened like any new file, so it gets the usual permissions, unlike mkstemp's 0600.)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            f = open(tmp, "xb")
        except OSError as exc:
            raise ExportError(str(out), f"cannot write the scenario: {exc.strerror}") from None
        try:
            with f:
                write = _write_json if target.suffix.lower() == ".json" else _write
                count = write(f, conn, settings, end, name)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ExportError(str(out), f"cannot write the scenario: {exc.strerror}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return count


def _open(path: Path, name: str) -> sqlite3.Connection:
    """The ledger, read-only, after checking it is one and has a journal. (`query_only` rather
    than a read-only open: a read-only connection to a WAL ledger cannot remove the -wal and
    -shm files it makes, and would leave them beside the ledger.)"""
    if not path.is_file():
        raise ExportError(name, "no such ledger file")
    try:
        conn = sqlite3.connect(path)
    except sqlite3.Error as exc:
        raise ExportError(name, f"cannot open the ledger: {exc}") from None
    try:
        conn.execute("PRAGMA query_only = 1")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        conn.close()
        raise ExportError(name, "not a meterbook ledger (not an SQLite database)") from None
    if not {"transactions", "postings", "accounts"} <= tables:
        conn.close()
        raise ExportError(name, "not a meterbook ledger (no transactions, postings and accounts tables)")
    if "inputs" not in tables:
        conn.close()
        raise ExportError(name, "the ledger has no journal (table inputs)")
    return conn


def _settings(conn: sqlite3.Connection, name: str) -> RunSettings:
    """The run settings, or an ExportError saying which is missing."""
    try:
        return read_settings(conn)
    except SettingsError as exc:
        raise ExportError(name, f"the ledger {exc}") from None
    except sqlite3.Error as exc:
        raise ExportError(name, f"cannot read the run settings: {exc}") from None


def _end(settings: RunSettings, until: int | str | None, name: str) -> int:
    """Where the exported scenario ends: `until` (checked against the run's window), else the
    run's recorded end."""
    if until is None:
        if settings.end_us is None:
            raise ExportError(name, "the ledger records no end (end_us): its run has not finished; pass --until")
        return settings.end_us
    if isinstance(until, str):
        try:
            until = int(parse_at(until))
        except ValueError as exc:
            raise ExportError(name, f"--until: {exc}") from None
    if until <= settings.start_us:
        raise ExportError(name, f"--until {format_at(until)} is not after the run's start ({format_at(settings.start_us)})")
    if settings.end_us is not None and until > settings.end_us:
        raise ExportError(name, f"--until {format_at(until)} is after the run's end ({format_at(settings.end_us)})")
    return until


def header(settings: RunSettings, end: int, source: str) -> bytes:
    """The top of the file: format version and run settings (strings JSON-quoted, which YAML
    reads as double-quoted scalars). """
    enc = msgspec.json.encode
    lines = [
        f"# The journal of {source}, written by `meterbook journal export`.".encode(),
        b"meterbook: 1",
        b"name: " + enc(settings.name),
        b"seed: " + enc(settings.seed),
        b"start: " + enc(format_at(settings.start_us)),
        b"end: " + enc(format_at(end)),
        b"currency: " + enc(settings.currency),
    ]
    lines.append(b"grace_seconds: " + enc(settings.grace_seconds))
    return b"\n".join(lines) + b"\n"


def _write(f: Any, conn: sqlite3.Connection, settings: RunSettings, end: int, source: str) -> int:
    """Write the header and the timeline, one line an entry, in chunks."""
    f.write(header(settings, end, Path(source).name))
    count = 0
    chunk: list[bytes] = []
    for line in entries(conn, settings.currency, end):
        if not count:
            f.write(b"timeline:\n")
        chunk.append(line)
        count += 1
        if len(chunk) >= CHUNK:
            f.write(_NOT_YAML.sub(_escape, b"".join(chunk)))
            chunk = []
    if chunk:
        f.write(_NOT_YAML.sub(_escape, b"".join(chunk)))
    if not count:
        f.write(b"timeline: []\n")
    return count


def _write_json(f: Any, conn: sqlite3.Connection, settings: RunSettings, end: int, source: str) -> int:
    """The same scenario as one JSON document (an entry a line), for OUT ending in `.json`:
    the loader reads JSON without YAML's construction cost (~10x faster on long journals)."""
    enc = msgspec.json.encode
    head = {"meterbook": 1, "name": settings.name, "seed": settings.seed, "start": format_at(settings.start_us),
            "end": format_at(end), "currency": settings.currency, "grace_seconds": settings.grace_seconds}
    f.write(enc(head)[:-1] + b',"timeline":[')
    count = 0
    chunk: list[bytes] = []
    for line in entries(conn, settings.currency, end):
        chunk.append((b"\n" if not count else b",\n") + line[2:-1])  # "- {...}\n" -> "{...}"
        count += 1
        if len(chunk) >= CHUNK:
            f.write(b"".join(chunk))
            chunk = []
    f.write(b"".join(chunk) + b"\n]}\n")
    return count


class _JournaledUsage(msgspec.Struct):
    """A RecordUsage journal body, its properties left as the JSON they are."""

    id: str
    at_us: int
    customer: str
    event_type: str
    properties: msgspec.Raw
    timestamp_us: int | None = None


class _UsageBody(msgspec.Struct, omit_defaults=True):
    """The `usage:` body of a timeline entry, its properties copied through as JSON."""

    id: str
    customer: str
    event_type: str
    properties: msgspec.Raw
    timestamp: str | None = None


class _UsageEntry(msgspec.Struct):
    """A usage timeline entry."""

    at: str
    usage: _UsageBody


# A digit before an exponent: a float YAML may not read as one (or a string that looks so: then
# the careful path is taken for nothing).
_EXPONENT = re.compile(rb"[0-9][eE]")


def entries(conn: sqlite3.Connection, currency: str, end: int) -> Iterator[bytes]:
    """`- {entry}\\n` for each journaled input before `end`, in journal order.

    Usage, nearly every row of a large journal, takes a short path: its properties are copied
    as the journal's JSON, unless they may hold a float YAML reads otherwise. It writes exactly
    what `to_scenario.entry_of` gives (tests/test_journal_export.py compares the two); a field
    added to usage entries there (`timestamp:`) must be added to `_UsageBody` too."""
    decode = msgspec.json.Decoder(ins.AnyInput).decode
    decode_usage = msgspec.json.Decoder(_JournaledUsage).decode
    encode = msgspec.json.Encoder().encode
    rows = conn.execute("SELECT kind, body FROM inputs WHERE arrival_us < ? ORDER BY seq", (end,))
    for kind, body in rows:
        if kind == "RecordUsage":
            u = decode_usage(body)
            if _EXPONENT.search(u.properties) is None:
                stamp = format_at(u.timestamp_us) if u.timestamp_us is not None else None
                yield b"- " + encode(_UsageEntry(format_at(u.at_us), _UsageBody(
                    u.id, u.customer, u.event_type, u.properties, stamp))) + b"\n"
                continue
        yield b"- " + encode(careful_entry(decode(body), currency)) + b"\n"


def careful_entry(item: ins.Input, currency: str) -> dict[str, Any]:
    """`to_scenario.entry_of`, with usage properties made safe for YAML (`_yaml_safe`)."""
    entry = entry_of(item, currency)
    usage = entry.get("usage")
    if usage is not None and _needs_care(usage["properties"]):
        usage["properties"] = _yaml_safe(usage["properties"])
    return entry


def _needs_care(props: dict[str, Any]) -> bool:
    """Whether properties hold a float (or something that may contain one)."""
    return any(type(v) in (float, dict, list) for v in props.values())


def _yaml_safe(value: Any) -> Any:
    """Floats written so that YAML 1.1 reads them as floats: JSON's `1e20` is a string to YAML,
    which wants a dot and a signed exponent (`1.0e+20`); the same float either way."""
    if type(value) is float:
        return msgspec.Raw(_float_text(value).encode())
    if type(value) is dict:
        return {k: _yaml_safe(v) for k, v in value.items()}
    if type(value) is list:
        return [_yaml_safe(v) for v in value]
    return value


def _float_text(value: float) -> str:
    """A float's shortest JSON text, in the form YAML 1.1 resolves as a float."""
    text = msgspec.json.encode(value).decode()
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa and mantissa not in ("null",):
        mantissa += ".0"
    if e and exponent[:1] not in ("+", "-"):
        exponent = "+" + exponent
    return mantissa + e + exponent


def _escape(match: re.Match[bytes]) -> bytes:
    """A character YAML does not take raw, as a \\u escape (it occurs only inside strings)."""
    return f"\\u{ord(match.group().decode()):04x}".encode()
