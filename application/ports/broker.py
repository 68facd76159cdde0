"""Compatibility module: the Broker port was split into ``application.ports.venue`` (what every venue does)
and ``application.ports.simulation`` (what only a simulation does), ADR 0023 point 4. The repository imports
those; this module re-exports them for branches written before the split and goes once they have merged."""

from __future__ import annotations

from application.ports.simulation import (
    Broker,
    ReplayAccount,
    ReplayOutcome,
    SignalReplay,
    SimulatedVenue,
    SimulationSettings,
    SimulatorFactory,
)
from application.ports.venue import FILLS_START, Balance, ExecutionVenue, FillCursor

__all__ = [
    "FILLS_START",
    "Balance",
    "Broker",
    "ExecutionVenue",
    "FillCursor",
    "ReplayAccount",
    "ReplayOutcome",
    "SignalReplay",
    "SimulatedVenue",
    "SimulationSettings",
    "SimulatorFactory",
]
