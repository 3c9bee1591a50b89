"""The meterbook runtime: simulation, checks, the live runner and the sidecar."""

from meterbook.engine.results import Results
from meterbook.engine.simulate import check, simulate
from meterbook.scenarios import Scenario

__all__ = ["Results", "Scenario", "check", "simulate"]
