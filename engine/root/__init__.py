"""meterbook: price usage, seats and credits on a double-entry ledger, live or simulated.

The few names a notebook or a script calls; everything else lives in the subpackages
(`meterbook.engine`, `meterbook.actors`, `meterbook.ledger`, `meterbook.scenarios`).
This file is the package root: the repository keeps its folders at the top level and
`pyproject.toml` maps them under one namespace (setuptools `package-dir`).

Names load lazily, so `meterbook.errors` (which every layer imports) costs nothing and
creates no import cycle."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meterbook.engine.results import Results
    from meterbook.engine.simulate import check, load, simulate
    from meterbook.errors import InputError, LedgerError, MeterbookError, ScenarioError
    from meterbook.scenarios.format import Scenario

__all__ = [
    "InputError",
    "LedgerError",
    "MeterbookError",
    "Results",
    "Scenario",
    "ScenarioError",
    "check",
    "load",
    "simulate",
]

_HOME = {
    "InputError": "meterbook.errors",
    "LedgerError": "meterbook.errors",
    "MeterbookError": "meterbook.errors",
    "ScenarioError": "meterbook.errors",
    "Results": "meterbook.engine.results",
    "Scenario": "meterbook.scenarios.format",
    "check": "meterbook.engine.simulate",
    "load": "meterbook.engine.simulate",
    "simulate": "meterbook.engine.simulate",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'meterbook' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted(__all__)
