"""Decode a scenario file into typed Structs, turning every problem into one ScenarioError."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import yaml

from meterbook.scenarios.errors import ScenarioError
from meterbook.scenarios.format import COMMANDS, Scenario
from meterbook.scenarios.types import dec_hook
from meterbook.scenarios.validate import validate

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_FIELD = re.compile(r"^Object (contains unknown|missing required) field `(?P<name>[^`]*)`$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as text: the format parses times itself, exactly."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_text(text: str | bytes, file: str) -> Any:
    """Parse YAML (or JSON, which YAML reads too) into plain Python objects."""
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ScenarioError(file, "$", f"not valid YAML{where}: {exc}") from None
    if raw is None or raw in ("", {}):
        raise ScenarioError(file, "$", "the file is empty")
    if not isinstance(raw, dict):
        raise ScenarioError(file, "$", f"expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def translate(exc: msgspec.ValidationError, file: str) -> ScenarioError:
    """Rewrite a msgspec validation error as file, path and a reason a user can act on."""
    m = _AT.match(str(exc))
    assert m is not None
    reason, path = m.group("reason"), m.group("path") or "$"
    f = _FIELD.match(reason)
    if f:
        path = f"{path}.{f.group('name')}"
        reason = "unknown field" if "unknown" in reason else "missing required field"
    elif reason.startswith("Expected"):
        reason = "e" + reason[1:]
    return ScenarioError(file, path, reason)


def decode(raw: Any, file: str) -> Scenario:
    """Convert parsed objects to a Scenario, then check cross references."""
    try:
        scenario = msgspec.convert(raw, Scenario, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        raise translate(exc, file) from None
    for i, entry in enumerate(scenario.timeline):
        given = [name for name in COMMANDS if getattr(entry, name) is not None]
        if len(given) != 1:
            what = ", ".join(given) if given else "none"
            raise ScenarioError(
                file, f"$.timeline[{i}]", f"expected exactly one of {', '.join(COMMANDS)}; got {what}"
            )
    validate(scenario, file)
    return scenario


def load_text(text: str | bytes, file: str = "<scenario>") -> Scenario:
    """Decode scenario text; `file` names it in errors."""
    return decode(parse_text(text, file), file)


def load(path: str | Path) -> Scenario:
    """Read and decode one scenario file."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(p.name, "$", f"cannot read the file: {exc.strerror}") from None
    return load_text(text, p.name)
