"""Catalog entries and customers created in the timeline, seen as the declared entries they
are from their instant on (SCENARIOS.md "Creating and editing at run time").

Validation checks a created body exactly as a declared one, by checking a merged view of the
scenario (created entries appended to their declared sections), with error paths mapped back
to the timeline entry; then it checks what only creation adds: an id exists from its create
command on, and a created customer does not start before it is created."""

from __future__ import annotations

import msgspec

from meterbook.scenarios.format import CREATES, Customer, Entry, Scenario


class Created(msgspec.Struct, frozen=True):
    """One created entry: where it is in the timeline, its section and index in the merged view."""

    entry: int
    command: str
    section: str
    index: int
    at: int


def created_entries(s: Scenario) -> list[Created]:
    """Every create command of the timeline, with its place in the merged sections."""
    counts = {section: len(getattr(s, section)) for section in CREATES.values()}
    out = []
    for i, e in enumerate(s.timeline):
        for command, section in CREATES.items():
            if getattr(e, command) is not None:
                out.append(Created(i, command, section, counts[section], e.at))
                counts[section] += 1
    return out


def body_of(e: Entry, command: str) -> object:
    """The body of one create command (a created customer starts at its `at` by default)."""
    body = getattr(e, command)
    if isinstance(body, Customer) and body.start is None:
        return msgspec.structs.replace(body, start=e.at)
    return body


def merged(s: Scenario) -> tuple[Scenario, dict[str, str]]:
    """The scenario with every created entry appended to its declared section, and the map
    from each merged path (`$.products[3]`) back to the timeline (`$.timeline[5].create_product`)."""
    extra: dict[str, list[object]] = {section: list(getattr(s, section)) for section in CREATES.values()}
    aliases = {}
    for c in created_entries(s):
        extra[c.section].append(body_of(s.timeline[c.entry], c.command))
        aliases[f"$.{c.section}[{c.index}]"] = f"$.timeline[{c.entry}].{c.command}"
    return msgspec.structs.replace(s, **extra), aliases


def created_at(s: Scenario) -> dict[tuple[str, str], int]:
    """When each id of a section comes to exist: declared ones at the start, created ones at
    their command's instant."""
    out: dict[tuple[str, str], int] = {}
    for section in CREATES.values():
        for item in getattr(s, section):
            out[(section, item.id)] = s.start
    for c in created_entries(s):
        out[(c.section, getattr(s.timeline[c.entry], c.command).id)] = c.at
    return out


def unalias(path: str, aliases: dict[str, str]) -> str:
    """A merged path written as the file has it."""
    for merged_prefix, original in aliases.items():
        if path == merged_prefix or path.startswith((merged_prefix + ".", merged_prefix + "[")):
            return original + path[len(merged_prefix):]
    return path


# The declared catalog is journaled as create inputs at the scenario's start, each under the
# id `<kind>:<its id>` (engine/from_scenario.py), so that a journal exported as a scenario
# keeps them apart from timeline commands: a timeline `id:` may not take one of these names.
DECLARED_KINDS = {
    "credit_types": "credit_type",
    "products": "product",
    "rate_cards": "rate_card",
    "packages": "package",
}


def declared_id(section: str, ident: str) -> str:
    """The input id a declared catalog entry is journaled under (`product:ai`)."""
    return f"{DECLARED_KINDS[section]}:{ident}"


def is_declared_name(e: Entry) -> bool:
    """Whether a create command's `id:` is the name its body would have as a declared entry
    (how an exported journal writes the declared catalog back)."""
    for section, kind in DECLARED_KINDS.items():
        body = getattr(e, f"create_{kind}")
        if body is not None:
            return e.id == declared_id(section, body.id)
    return False


def declared_ids(s: Scenario) -> dict[str, str]:
    """Every input id the declared catalog takes, with the path of the entry that takes it."""
    return {declared_id(section, item.id): f"$.{section}[{i}]"
            for section in DECLARED_KINDS for i, item in enumerate(getattr(s, section))}
