"""Where candles come from: bundled files, a user's file, a download cache or an exchange."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.model.candles import CandleSeries, GapReport
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """What a source holds for one symbol and timeframe. Times are UTC milliseconds, ``[start, end)``."""

    symbol: Symbol
    timeframe: Timeframe
    start_ms: int
    end_ms: int
    bars: int
    gaps: GapReport
    source: str


class MarketData(Protocol):
    """Historical candles.

    ``candles`` returns the validated bars of ``symbol`` at ``timeframe`` whose open time lies in the
    half-open range ``[start_ms, end_ms)`` (UTC milliseconds; ``None`` means unbounded). It raises
    ``UnknownSymbolError`` for a symbol the source does not have and ``MarketDataUnavailable`` when the
    data is malformed or the range holds no bar. Reading is idempotent: the same call returns the same bars.
    """

    def candles(
        self, symbol: Symbol, timeframe: Timeframe, start_ms: int | None = None, end_ms: int | None = None
    ) -> CandleSeries: ...

    def datasets(self) -> list[DatasetInfo]:
        """Every symbol and timeframe this source offers, with its range and bar count."""
        ...
