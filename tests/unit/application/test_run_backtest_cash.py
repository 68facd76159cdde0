"""The backtest report's cash curve: the quote balance after each bar's fills."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData


def test_equity_minus_cash_is_the_value_of_the_positions_at_every_close() -> None:
    candles = random_walk(3000, seed=4)
    use_case = RunBacktest(InMemoryMarketData(candles), simulator)
    request = BacktestRequest(
        "ema_cross", (candles.symbol,), Timeframe.H1, Decimal(10_000), params={"fast": "5", "slow": "20"},
        risk_enabled=False,
    )  # fmt: skip
    report = use_case(request)
    assert report.cash is not None and len(report.trades) > 20
    # Independent reconstruction: the quantity held after each bar, from the trade ledger's entries and exits.
    qty = np.zeros(len(candles))
    for t in report.trades:
        entry = int(np.searchsorted(candles.open_time, t.entry_time))
        exit_ = int(np.searchsorted(candles.open_time, t.exit_time))
        qty[entry:exit_] += t.quantity
    held = report.equity - report.cash
    # Up to the last exit (a position still open at the end is not in the ledger).
    last = int(np.searchsorted(candles.open_time, max(t.exit_time for t in report.trades)))
    np.testing.assert_allclose(held[:last], (qty * candles.close)[:last], rtol=1e-9, atol=1e-6)
    for name, position in report.open_positions.items():
        assert held[-1] == pytest.approx(float(position.quantity) * report.closes[name][-1], rel=1e-9)
    assert report.cash[0] == pytest.approx(10_000)
