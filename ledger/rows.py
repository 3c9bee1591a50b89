"""Typed rows of the ledger's tables, so code reads columns by name, never by position."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

# Rows are converted in chunks: one msgspec call per chunk is fast, and memory stays bounded
# by the chunk rather than the ledger.
_CHUNK = 4096


class UnitRow(msgspec.Struct, frozen=True):
    """A unit: stored decimals (`scale`) and displayed decimals."""

    unit: str
    scale: int
    decimals: int


class AccountRow(msgspec.Struct, frozen=True):
    """An account: its id, unique name, type (asset, liability, ...) and unit."""

    id: int
    name: str
    type: str
    unit: str


def typed(rows: Iterable[dict[str, Any]], type_: type[T]) -> Iterator[T]:
    """Rows as sqlite-utils yields them (dicts by column name), converted to `type_`; a column
    missing or of the wrong SQLite type fails loudly (msgspec.ValidationError)."""
    it = iter(rows)
    while chunk := list(islice(it, _CHUNK)):
        yield from msgspec.convert(chunk, list[type_])  # type: ignore[valid-type]
