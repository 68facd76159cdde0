"""Simulated execution for backtests (and paper trading): broker and clock."""

from adapters.simulation.broker import SimulatedBroker
from adapters.simulation.clock import SimulatedClock

__all__ = ["SimulatedBroker", "SimulatedClock"]
