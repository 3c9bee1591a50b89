"""Scenario files, format 1: typed Structs, decoding with precise errors, bundled examples."""

from meterbook.scenarios.errors import ScenarioError
from meterbook.scenarios.format import Scenario
from meterbook.scenarios.load import load, load_text
from meterbook.scenarios.types import Amount, At, format_at, parse_at
from meterbook.scenarios.validate import scenario_warnings

__all__ = ["Amount", "At", "Scenario", "ScenarioError", "format_at", "load", "load_text", "parse_at", "scenario_warnings"]
