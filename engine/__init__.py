"""The meterbook runtime: the apply / advance_to seam, simulation, checks and the live runner."""

from meterbook.engine.results import Results
from meterbook.engine.runtime import Runtime
from meterbook.engine.simulate import check, load, simulate
from meterbook.scenarios import Scenario

__all__ = ["Results", "Runtime", "Scenario", "check", "load", "simulate"]
