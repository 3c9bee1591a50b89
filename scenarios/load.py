"""Decode a scenario file into typed Structs, turning every problem into one ScenarioError."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from meterbook.scenarios.errors import ScenarioError
from meterbook.scenarios.format import COMMANDS, Scenario
from meterbook.scenarios.types import dec_hook
from meterbook.scenarios.validate import validate

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_FIELD = re.compile(r"^Object (contains unknown|missing required) field `(?P<name>[^`]*)`$")
_ENUM = re.compile(r"^Invalid enum value (?P<value>.*)$", re.S)
_STEP = re.compile(r"\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>[^\]]*)\]")

# Input limits (docs/semantics.md, "Input limits and refusals").
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
# The tags a JSON-shaped document uses; anything else (!!set, !!binary, !!timestamp...) is refused.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
_MERGE_TAG = "tag:yaml.org,2002:merge"

# libyaml's parser is 2.5x faster on big files (9.5 s -> 3.8 s measured); fall back to Python's.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Refused(Exception):
    """A YAML document that parses but is refused before construction: path and reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader that keeps timestamps as text (the format parses times itself, exactly)
    and screens the composed document before building any Python object (`_screen`)."""

    def construct_document(self, node: yaml.Node) -> Any:
        """Screen the node graph, then construct it as usual."""
        _screen(node)
        return super().construct_document(node)


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line(node: yaml.Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


# A node's place in the document, built only when an error names it: (parent trail, key or index).
_Trail = tuple[Any, str | int] | None


def _path(trail: _Trail) -> str:
    """The JSON-path text of a trail (`$.customers[0].id`)."""
    steps: list[str] = []
    while trail is not None:
        trail, step = trail
        steps.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "$" + "".join(reversed(steps))


def _screen(root: yaml.Node) -> None:
    """Refuse, in one iterative pass (no recursion), what would make construction or decoding
    blow up or silently lose data: aliases and merge keys (billion laughs: each alias may
    double the data), nesting deeper than MAX_DEPTH, non-JSON tags, and a key given twice in
    one mapping (YAML lets the last win; a billing file must not)."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, _Trail, int]] = [(root, None, 1)]
    while stack:
        node, trail, depth = stack.pop()
        children: list[tuple[yaml.Node, _Trail, int]]
        if id(node) in seen:
            raise _Refused(_path(trail), "a YAML alias (*name) is not accepted; write the value out "
                                         "(aliases can expand a small file into gigabytes)")
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _Refused(_path(trail), f"nested more than {MAX_DEPTH} levels deep (line {_line(node)})")
        if node.tag not in _PLAIN_TAGS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise _Refused(_path(trail), f"the YAML tag {tag} is not accepted (line {_line(node)}); "
                                         "a scenario holds only mappings, lists, strings, numbers, booleans and null")
        if isinstance(node, yaml.SequenceNode):
            children = [(child, (trail, i), depth + 1) for i, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            children = _screen_mapping(node, trail, depth)
        else:
            continue
        # Reversed onto the stack: nodes are visited in document order, so the second
        # occurrence of a shared node (the alias, not the anchor) is the one reported.
        stack.extend(reversed(children))


def _screen_mapping(node: yaml.MappingNode, trail: _Trail, depth: int) -> list[tuple[yaml.Node, _Trail, int]]:
    """The children of one mapping to screen; refuses merge keys and repeated keys."""
    children: list[tuple[yaml.Node, _Trail, int]] = []
    firsts: dict[tuple[str, str], yaml.Node] = {}
    for key, value in node.value:
        if key.tag == _MERGE_TAG:
            raise _Refused(_path(trail), f"YAML merge keys (<<) are not accepted (line {_line(key)}); "
                                         "write the keys out")
        label = str(key.value) if isinstance(key, yaml.ScalarNode) else "<key>"
        if isinstance(key, yaml.ScalarNode):
            # Scalars compare by resolved tag and text: `a` and "a" are one key; 1 and "1" are not.
            first = firsts.setdefault((key.tag, key.value), key)
            if first is not key:
                raise _Refused(_path((trail, label)), f"the key {label!r} is given twice in one mapping "
                                                      f"(lines {_line(first)} and {_line(key)}); remove one")
        children.append((key, (trail, "<key>"), depth + 1))
        children.append((value, (trail, label), depth + 1))
    return children


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A one-line description of a YAML syntax error, with its line and column."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"not readable as text at byte {exc.position}: {exc.reason} (a scenario is UTF-8 YAML or JSON)"
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else str(problem)
    return f"not valid YAML{where}: {' '.join(text.split())}"


def parse_text(text: str | bytes, file: str) -> Any:
    """Parse YAML (or JSON, which YAML reads too) into plain Python objects."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(file, "$", f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                                       "split it or read usage from a CSV file")
    plain = _plain_json(text)
    if plain is not None:
        return plain
    try:
        raw = yaml.load(text, Loader=_Loader)
    except _Refused as exc:
        raise ScenarioError(file, exc.path, exc.reason) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, "$", _yaml_problem(exc)) from None
    except RecursionError:  # pragma: no cover - libyaml caps nesting first; a guard for the pure-Python parser
        raise ScenarioError(file, "$", f"nested more than {MAX_DEPTH} levels deep") from None
    if raw is None:
        empty = _blank(text)
        raise ScenarioError(file, "$", "the file is empty" if empty else "expected a mapping at the top level, got null")
    if raw in ("", {}):
        raise ScenarioError(file, "$", "the file is empty")
    if not isinstance(raw, dict):
        raise ScenarioError(file, "$", f"expected a mapping at the top level, got {_kind(raw)}")
    return raw


class _NotPlain(Exception):
    """JSON text the fast path leaves to the YAML reader (which gives the exact error)."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _NotPlain  # a key given twice: the YAML path names it, with its lines
    return out


def _no_float(text: str) -> Any:
    raise _NotPlain  # YAML 1.1 reads some JSON numbers (1e3) otherwise; let it decide


def _plain_json(text: str | bytes) -> dict[str, Any] | None:
    """A JSON document read as JSON (YAML's construction costs ~1 ms an entry; this ~10 us):
    a top-level object with no repeated key, no number with a fraction or exponent, no
    NaN/Infinity and no nesting past MAX_DEPTH, which YAML would read the same. Anything else
    (or not JSON at all) returns None, and the YAML reader takes it, refusals included."""
    head = text.lstrip()[:1]
    if head not in ("{", b"{"):
        return None
    try:
        raw = json.loads(text, object_pairs_hook=_no_repeats, parse_float=_no_float, parse_constant=_no_float)
    except (_NotPlain, ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or not raw or _deeper_than(raw, MAX_DEPTH):
        return None
    return raw


def _deeper_than(root: Any, limit: int) -> bool:
    """Whether parsed JSON nests more than `limit` levels (iteratively)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return False


def _blank(text: str | bytes) -> bool:
    """True when the text holds nothing but blank lines and comments."""
    lines = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return all(not line.strip() or line.lstrip().startswith("#") for line in lines.splitlines())


def _kind(value: object) -> str:
    """The YAML word for a parsed value's type, for messages."""
    return {list: "a list", str: "a string", int: "an integer", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def translate(exc: msgspec.ValidationError, file: str) -> ScenarioError:
    """Rewrite a msgspec validation error as file, path and a reason a user can act on."""
    m = _AT.match(str(exc))
    assert m is not None
    reason, path = m.group("reason"), m.group("path") or "$"
    f = _FIELD.match(reason)
    e = _ENUM.match(reason)
    if f:
        path = f"{path}.{f.group('name')}"
        reason = "unknown field" if "unknown" in reason else "missing required field"
    elif e:
        allowed = literal_values(Scenario, path)
        if allowed:
            reason = f"expected one of {', '.join(repr(v) for v in allowed)}, got {e.group('value')}"
    elif reason.startswith("Expected"):
        reason = "e" + reason[1:]
    return ScenarioError(file, path, reason)


def literal_values(root: Any, path: str) -> tuple[Any, ...]:
    """The values of the `Literal` type found by walking `root` (a Struct type) along a
    msgspec error path such as `$.customers[0].payer`; empty when there is none."""
    tp = root
    for step in _STEP.finditer(path):
        tp = _step(tp, step.group("field"), step.group("index") is not None)
        if tp is None:
            return ()
    return tuple(v for arm in _arms(tp) if typing.get_origin(arm) is Literal for v in typing.get_args(arm))


def _arms(tp: Any) -> tuple[Any, ...]:
    """The members of a union type (a one-member tuple for anything else)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _step(tp: Any, field: str | None, index: bool) -> Any:
    """The type one path step below `tp`: a Struct's field, or a list's item or dict's value."""
    for arm in _arms(tp):
        if field is not None and isinstance(arm, type) and issubclass(arm, msgspec.Struct):
            hints = typing.get_type_hints(arm)
            if field in hints:
                return hints[field]
        if index and typing.get_origin(arm) in (list, dict):
            return typing.get_args(arm)[-1]
    return None


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
        # Refuse a huge file before reading it into memory.
        if p.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(p.name, "$", f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                                             "split it or read usage from a CSV file")
        text = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(p.name, "$", f"cannot read the file: {exc.strerror}") from None
    return load_text(text, p.name)
