"""The ownership rule: an actor's state is touched only by its own handler.

Two checks. Statically, no actor module imports another actor's module (so no actor can even
name another's class, let alone reach into it); each may import messages, the mailbox, pure
pricing functions and its own parts. At run time, after real scenarios, no mutable object is
reachable from two actors: the only things actors share are the engine's services (catalog,
chart of accounts, ledger handle, mailbox) and immutable values (frozen messages)."""

from __future__ import annotations

import ast
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec
import pytest

from meterbook.actors import Catalog, Chart
from meterbook.engine.router import Router
from meterbook.ledger import Book
from tests.conftest import EXAMPLES, ROOT

# Each actor kind and the modules it is written in.
ACTOR_MODULES = {
    "customer": {"customer", "customer_state", "customer_grants", "customer_seats", "customer_edits", "customer_usage"},
    "pool": {"pool"},
    "seat": {"seat"},
    "parent": {"parent"},
}


def test_no_actor_module_imports_another_actors_module() -> None:
    owner = {module: kind for kind, modules in ACTOR_MODULES.items() for module in modules}
    for kind, modules in ACTOR_MODULES.items():
        for module in modules:
            tree = ast.parse((ROOT / "actors" / f"{module}.py").read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("meterbook.actors."):
                    imported = node.module.rsplit(".", 1)[-1]
                    assert owner.get(imported, kind) == kind, f"actors/{module}.py ({kind}) imports {node.module}"


SERVICES = (Catalog, Chart, Book, Router)
IMMUTABLE = (str, int, float, bool, bytes, Decimal, Fraction, type(None), frozenset)


def _mutables(obj: Any, found: dict[int, Any], depth: int = 0) -> None:
    """Collect every mutable object reachable from `obj`, stopping at services."""
    if isinstance(obj, (*IMMUTABLE, *SERVICES, type)) or (callable(obj) and not hasattr(obj, "__dict__")):
        return
    if isinstance(obj, msgspec.Struct) and type(obj).__struct_config__.frozen:
        for name in obj.__struct_fields__:
            _mutables(getattr(obj, name), found, depth + 1)
        return
    if isinstance(obj, tuple):
        for item in obj:
            _mutables(item, found, depth + 1)
        return
    if id(obj) in found:
        return
    found[id(obj)] = obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            _mutables(k, found, depth + 1)
            _mutables(v, found, depth + 1)
    elif isinstance(obj, list | set):
        for item in obj:
            _mutables(item, found, depth + 1)
    elif isinstance(obj, msgspec.Struct):
        for name in obj.__struct_fields__:
            _mutables(getattr(obj, name), found, depth + 1)
    else:
        for name in getattr(type(obj), "__slots__", ()):
            _mutables(getattr(obj, name, None), found, depth + 1)
        for value in getattr(obj, "__dict__", {}).values():
            if hasattr(value, "__self__"):  # a bound method: the handler table points at its own actor
                continue
            _mutables(value, found, depth + 1)


@pytest.mark.parametrize("name", ["account-hierarchy.yaml", "individual-seat-credits.yaml", "packages.yaml",
                                  "pooled-seat-credits.yaml", "usage-and-commits.yaml"])
def test_actors_share_no_mutable_object(run_text: Any, name: str) -> None:
    path = EXAMPLES / name
    results = run_text(path.read_text(), path.name)
    owners: dict[int, str] = {}
    actors = results.runtime.router.actors
    assert len(actors) > len(results.runtime.customers)  # pools, seats and roll-ups are actors too
    for address, actor in actors.items():
        found: dict[int, Any] = {}
        for value in vars(actor).values():
            if not hasattr(value, "__self__"):
                _mutables(value, found)
        for ident, obj in found.items():
            assert ident not in owners, f"{type(obj).__name__} reachable from {owners[ident]!r} and {address!r}"
            owners[ident] = address


def test_the_walker_sees_sharing() -> None:
    """The check above can fail: a list held by two objects is found twice."""
    shared: list[int] = []

    class A:
        def __init__(self) -> None:
            self.items = shared

    first: dict[int, Any] = {}
    second: dict[int, Any] = {}
    _mutables(vars(A()), first)
    _mutables(vars(A()), second)
    assert id(shared) in first and id(shared) in second


def test_examples_exist() -> None:
    assert (Path(EXAMPLES) / "packages.yaml").exists()
