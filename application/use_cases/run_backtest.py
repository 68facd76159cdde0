"""Run a backtest: candles -> strategy signals -> the engine -> metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from application.engine import Denial, Engine, ProgressCallback
from application.ports.broker import SimulatorFactory
from application.ports.errors import ConfigurationError, MarketDataUnavailable
from application.ports.market_data import MarketData
from domain.metrics import compute_metrics
from domain.model.candles import FloatArray, GapReport, IntArray
from domain.model.positions import Position
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.model.trades import Trade
from domain.strategies.registry import create_strategy, describe_params


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """A backtest to run. Times are UTC ms, ``[start_ms, end_ms)``; ``None`` means all the data.

    Indicators warm up on bars before ``start_ms`` when the data has them, so the first decision can be
    taken on the first bar of the range.
    """

    strategy: str
    symbol: Symbol
    timeframe: Timeframe
    initial_cash: Decimal
    params: dict[str, str] = field(default_factory=dict)
    start_ms: int | None = None
    end_ms: int | None = None
    fee_bps: Decimal = Decimal(10)
    slippage_bps: Decimal = Decimal(0)
    allow_short: bool = False

    def __post_init__(self) -> None:
        if self.initial_cash <= 0:
            raise ConfigurationError(f"starting balance must be positive, got {self.initial_cash}")
        if self.fee_bps < 0 or self.slippage_bps < 0:
            raise ConfigurationError("fees and slippage cannot be negative")
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ConfigurationError("the start date must be before the end date")


@dataclass(frozen=True, slots=True, eq=False)
class BacktestReport:
    """Everything a person or a machine wants to see after a backtest."""

    request: BacktestRequest
    strategy_name: str
    strategy_version: str
    strategy_params: dict[str, Any]
    open_time: IntArray  # the backtested bars' open times (UTC ms)
    close: FloatArray
    equity: FloatArray  # marked at each bar's close
    trades: list[Trade]
    denials: list[Denial]
    metrics: dict[str, float]
    gaps: GapReport
    warmup_bars_used: int
    open_position: Position

    @property
    def bars(self) -> int:
        return int(self.open_time.shape[0])


class RunBacktest:
    """The backtest use case. Needs a ``MarketData`` source and a way to build a simulated broker."""

    def __init__(self, market_data: MarketData, simulator: SimulatorFactory) -> None:
        self._market_data = market_data
        self._simulator = simulator

    def __call__(self, request: BacktestRequest, progress: ProgressCallback | None = None) -> BacktestReport:
        strategy = create_strategy(request.strategy, request.params)
        history = self._market_data.candles(request.symbol, request.timeframe, None, request.end_ms)
        first = 0
        if request.start_ms is not None:
            first = int(np.searchsorted(history.open_time, request.start_ms, side="left"))
            if first >= len(history):
                raise MarketDataUnavailable(f"no {request.symbol} bars from the start date on: the data ends before it")
        pre = max(0, first - strategy.warmup)
        candles = history.slice(pre, len(history))
        start = first - pre
        if len(candles) - start < 2:
            raise MarketDataUnavailable("the range holds fewer than two bars; widen --start/--end")
        signals = strategy.signals(candles)
        broker, clock = self._simulator(
            candles, request.initial_cash, request.fee_bps, request.slippage_bps, request.allow_short
        )
        engine = Engine(candles, signals, broker, clock, request.initial_cash, allow_short=request.allow_short)
        result = engine.run(start=start, progress=progress)
        # Equity is marked at every close from the first backtested bar on (bars before it only warmed
        # indicators up). Nothing can fill before the second bar's open, so the first mark is the starting
        # cash, and buy-and-hold is measured from the same first close.
        equity = result.equity[start:]
        period = candles.slice(start, len(candles))
        metrics = compute_metrics(
            equity,
            result.trades,
            request.timeframe.periods_per_year,
            fees_paid=result.fees_paid,
            benchmark_close=period.close,
        )
        return BacktestReport(
            request=request,
            strategy_name=strategy.name,
            strategy_version=strategy.version,
            strategy_params=describe_params(strategy),
            open_time=period.open_time,
            close=period.close,
            equity=equity,
            trades=result.trades,
            denials=result.denials,
            metrics=metrics,
            gaps=period.gaps(),
            warmup_bars_used=start,
            open_position=result.portfolio.position(request.symbol),
        )
