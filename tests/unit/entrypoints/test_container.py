"""The container selects adapters by mode and by data source."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from adapters.files import BundledMarketData, CsvMarketData
from adapters.simulation import SimulatedBroker, SimulatedClock
from application.ports.errors import ConfigurationError
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.model.market import MarketFrame
from domain.model.timeframe import Timeframe
from entrypoints.container import build_container
from tests.builders import random_walk


def test_backtest_mode_wires_the_simulated_broker_and_bundled_data() -> None:
    container = build_container({"mode": "backtest"})
    assert isinstance(container.market_data(), BundledMarketData)
    market = random_walk(50)
    request = BacktestRequest("ema_cross", (market.symbol,), Timeframe.H1, Decimal(1000))
    broker, clock = container.assembler().venue(request, MarketFrame.align([market]))
    assert isinstance(broker, SimulatedBroker) and isinstance(clock, SimulatedClock)
    assert isinstance(container.run_backtest(), RunBacktest)


def test_a_data_file_switches_the_market_data_adapter(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text("open_time_ms,open,high,low,close,volume\n1600000000000,1,1,1,1,1\n")
    container = build_container({"mode": "backtest", "data_source": "file", "data_file": str(path)})
    assert isinstance(container.market_data(), CsvMarketData)


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_modes_that_are_not_built_yet_say_so(mode: str) -> None:
    container = build_container({"mode": mode})
    market = random_walk(50)
    request = BacktestRequest("ema_cross", (market.symbol,), Timeframe.H1, Decimal(1000))
    with pytest.raises(ConfigurationError, match=f"mode {mode!r} is not available yet"):
        container.assembler().venue(request, MarketFrame.align([market]))
