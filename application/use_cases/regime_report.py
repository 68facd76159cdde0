"""Regime report: candles -> the regime detector -> the share of each regime per UTC year."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from application.ports.errors import ConfigurationError, MarketDataUnavailable
from application.ports.market_data import MarketData
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.regime import REGIMES, Regime, RegimeParams, detect


@dataclass(frozen=True, slots=True)
class RegimeRequest:
    """Which candles to classify. Times are UTC ms, ``[start_ms, end_ms)``; ``None`` means all the data.

    The detector warms up on the data before ``start_ms`` (when the source has it), so a year's row does not
    depend on where the range starts.
    """

    symbol: Symbol
    timeframe: Timeframe
    start_ms: int | None = None
    end_ms: int | None = None
    params: RegimeParams = field(default_factory=RegimeParams)

    def __post_init__(self) -> None:
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ConfigurationError("the start date must be before the end date")


@dataclass(frozen=True, slots=True)
class RegimeShares:
    """How a set of bars splits over the six regimes. ``label`` is a year (``"2019"``) or ``"all"``;
    ``bars`` counts the bars that have a regime; ``shares`` follows :data:`domain.regime.REGIMES` and sums
    to 1."""

    label: str
    bars: int
    shares: tuple[float, ...]

    def share(self, regime: Regime) -> float:
        return self.shares[REGIMES.index(regime)]

    def as_dict(self) -> dict[str, float]:
        return {str(r): s for r, s in zip(REGIMES, self.shares, strict=True)}


@dataclass(frozen=True, slots=True)
class RegimeBreakdown:
    """The result: one row per UTC year that has classified bars (ascending), and the whole range.

    ``start_ms`` / ``end_ms`` bound the bars in range (UTC ms, ``[start, end)``); ``bars`` counts them and
    ``warmup_bars`` those among them that had no regime yet (not counted in any share).
    """

    request: RegimeRequest
    start_ms: int
    end_ms: int
    bars: int
    warmup_bars: int
    years: tuple[RegimeShares, ...]
    total: RegimeShares

    @property
    def regimes(self) -> tuple[Regime, ...]:
        return REGIMES


def _shares(label: str, codes: np.ndarray) -> RegimeShares:
    counts = np.bincount(codes, minlength=len(REGIMES))
    n = int(counts.sum())
    return RegimeShares(label, n, tuple(float(c) / n for c in counts.tolist()))


class RegimeReport:
    """The use case: load the candles through the ``MarketData`` port, classify every bar, count per year."""

    def __init__(self, market_data: MarketData) -> None:
        self._market_data = market_data

    def __call__(self, request: RegimeRequest) -> RegimeBreakdown:
        # From the first bar of the data: hysteresis states depend on the path, and this keeps them identical
        # whatever --start says.
        history = self._market_data.candles(request.symbol, request.timeframe, None, request.end_ms)
        regimes = detect(history, request.params)
        lo = 0
        if request.start_ms is not None:
            lo = int(np.searchsorted(history.open_time, request.start_ms, side="left"))
        if lo >= len(history):
            raise MarketDataUnavailable(f"no {request.symbol} {request.timeframe.value} bars in the requested range")
        times = history.open_time[lo:]
        codes = regimes.codes()[lo:].astype(np.int64)
        valid = codes >= 0
        if not valid.any():
            raise MarketDataUnavailable(
                f"too few bars for a regime: the detector needs {request.params.warmup} bars of warm-up, "
                f"the data has {len(history)}"
            )
        year = times.astype("datetime64[ms]").astype("datetime64[Y]").astype(np.int64) + 1970
        rows = tuple(_shares(str(y), codes[valid & (year == y)]) for y in np.unique(year[valid]).tolist())
        return RegimeBreakdown(
            request=request,
            start_ms=int(times[0]),
            end_ms=int(times[-1]) + request.timeframe.milliseconds,
            bars=int(times.shape[0]),
            warmup_bars=int((~valid).sum()),
            years=rows,
            total=_shares("all", codes[valid]),
        )
