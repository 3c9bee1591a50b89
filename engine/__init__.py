"""The meterbook runtime: simulation, checks, the live runner and the sidecar."""

from engine.results import Results
from engine.simulate import check, simulate
from scenarios import Scenario

__all__ = ["Results", "Scenario", "check", "simulate"]
