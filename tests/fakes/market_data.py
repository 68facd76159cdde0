"""An in-memory ``MarketData``: the fake the contract tests hold to the same rules as the real sources."""

from __future__ import annotations

from application.ports.errors import MarketDataUnavailable, UnknownSymbolError
from application.ports.market_data import DatasetInfo
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe


class InMemoryMarketData:
    def __init__(self, *series: CandleSeries) -> None:
        self._series = {(s.symbol, s.timeframe): s for s in series}

    def candles(
        self, symbol: Symbol, timeframe: Timeframe, start_ms: int | None = None, end_ms: int | None = None
    ) -> CandleSeries:
        if not any(s == symbol for s, _ in self._series):
            raise UnknownSymbolError(str(symbol), sorted(str(s) for s, _ in self._series))
        series = self._series.get((symbol, timeframe))
        if series is None:
            raise MarketDataUnavailable(f"no {timeframe.value} candles for {symbol}")
        part = series.between(start_ms, end_ms)
        if len(part) == 0:
            raise MarketDataUnavailable(f"no {symbol} bars in the requested range")
        return part

    def datasets(self) -> list[DatasetInfo]:
        return [
            DatasetInfo(s.symbol, s.timeframe, s.start_ms, s.end_ms, len(s), s.gaps(), "memory")
            for s in self._series.values()
        ]
