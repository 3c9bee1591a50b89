"""Scenario files, format 1: typed Structs, decoding with precise errors, bundled examples."""

from scenarios.errors import ScenarioError
from scenarios.format import Scenario
from scenarios.load import load, load_text
from scenarios.types import Amount, At, format_at, parse_at

__all__ = ["Amount", "At", "Scenario", "ScenarioError", "format_at", "load", "load_text", "parse_at"]
