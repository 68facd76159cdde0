"""Trend strength: ADX with the directional indicators +DI and -DI, whole series and bar by bar."""

from __future__ import annotations

import math

import numpy as np

from domain.indicators._scan import LinearScan, SeededScan, linear_scan, seeded_scan
from domain.indicators.base import ADXLines, as_columns, check_period, decay_bars
from domain.indicators.volatility import true_range
from domain.model.candles import FloatArray

NAN = float("nan")


def _running_sum(values: FloatArray, period: int) -> FloatArray:
    """Wilder's running sum as TA-Lib keeps it for ADX: the plain sum of the first ``period - 1`` values,
    then ``S = S * (1 - 1/period) + x``; returned from the ``period``-th value on."""
    seed = math.fsum(values[: period - 1].tolist())
    return linear_scan(values[period - 1 :], 1.0, 1.0 - 1.0 / period, seed)


def adx(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> ADXLines[FloatArray]:
    """Average directional index with +DI and -DI (Wilder, TA-Lib's conventions and seeding).

    +DM is the rise of the high and -DM the fall of the low from the previous bar, each kept only where it
    is positive and the larger of the two (else 0). They and the true range are kept as Wilder running sums,
    seeded with the plain sum of bars ``1..period-1`` and updated ``S = S * (1 - 1/period) + x`` from bar
    ``period`` on; ``±DI = 100 * S(±DM) / S(TR)`` (0 where ``S(TR)`` is 0). ``DX = 100 * |+DI - -DI| / (+DI +
    -DI)`` (0 where both DI are 0) and ADX is Wilder's smoothing of DX seeded with the mean of the first
    ``period`` DX values.

    Warm-up: ±DI ``period`` bars, ADX ``2 * period - 1`` (:attr:`ADX.warmups`). Convergence: from bar
    ``period - 1``, bars until ``(1 + m) * (1 - 1/period) ** m < tol / SEED_MARGIN`` (ADX smooths an input
    that is itself still forgetting its seed). Incremental twin: :class:`ADX`."""
    period = check_period(period)
    h, lo, c = as_columns(high, low, close)
    n = h.shape[0]
    plus_di = np.full(n, np.nan)
    minus_di = np.full(n, np.nan)
    adx_line = np.full(n, np.nan)
    if n <= period:
        return ADXLines(adx_line, plus_di, minus_di)
    up = h[1:] - h[:-1]
    down = lo[:-1] - lo[1:]
    plus_dm = np.where((up > down) & (up > 0.0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0.0), down, 0.0)
    s_tr = _running_sum(true_range(h, lo, c)[1:], period)
    s_plus = _running_sum(plus_dm, period)
    s_minus = _running_sum(minus_dm, period)
    with np.errstate(invalid="ignore", divide="ignore"):
        plus = np.where(s_tr == 0.0, 0.0, 100.0 * (s_plus / s_tr))
        minus = np.where(s_tr == 0.0, 0.0, 100.0 * (s_minus / s_tr))
        total = plus + minus
        dx = np.where(total == 0.0, 0.0, 100.0 * (np.abs(plus - minus) / total))
    plus_di[period:] = plus
    minus_di[period:] = minus
    adx_line[period:] = seeded_scan(dx, period, 1.0 / period)
    return ADXLines(adx_line, plus_di, minus_di)


class ADX:
    """Incremental :func:`adx`: ``update(high, low, close) -> ADXLines[float]``."""

    __slots__ = (
        "_adx",
        "_minus",
        "_plus",
        "_prev",
        "_seeds",
        "_tr",
        "period",
        "warmup",
        "warmups",
    )

    def __init__(self, period: int = 14) -> None:
        self.period = check_period(period)
        self.warmups = ADXLines(2 * self.period - 1, self.period, self.period)
        self.warmup = self.warmups.adx
        self._prev: tuple[float, float, float] | None = None
        self._seeds: tuple[list[float], list[float], list[float]] = ([], [], [])
        self._tr: LinearScan | None = None
        self._plus: LinearScan | None = None
        self._minus: LinearScan | None = None
        self._adx = SeededScan(self.period, 1.0 / self.period)

    def update(self, high: float, low: float, close: float) -> ADXLines[float]:
        prev = self._prev
        self._prev = (high, low, close)
        if prev is None:
            return ADXLines(NAN, NAN, NAN)
        prev_high, prev_low, prev_close = prev
        up = high - prev_high
        down = prev_low - low
        plus_dm = up if (up > down and up > 0.0) else 0.0
        minus_dm = down if (down > up and down > 0.0) else 0.0
        tr = max(high, prev_close) - min(low, prev_close)
        if self._tr is None or self._plus is None or self._minus is None:
            seeds = self._seeds
            if len(seeds[0]) < self.period - 1:
                seeds[0].append(tr)
                seeds[1].append(plus_dm)
                seeds[2].append(minus_dm)
                return ADXLines(NAN, NAN, NAN)
            beta = 1.0 - 1.0 / self.period
            self._tr = LinearScan(1.0, beta, math.fsum(seeds[0]))
            self._plus = LinearScan(1.0, beta, math.fsum(seeds[1]))
            self._minus = LinearScan(1.0, beta, math.fsum(seeds[2]))
        s_tr = self._tr.step(tr)
        s_plus = self._plus.step(plus_dm)
        s_minus = self._minus.step(minus_dm)
        plus = 0.0 if s_tr == 0.0 else 100.0 * (s_plus / s_tr)
        minus = 0.0 if s_tr == 0.0 else 100.0 * (s_minus / s_tr)
        total = plus + minus
        dx = 0.0 if total == 0.0 else 100.0 * (abs(plus - minus) / total)
        return ADXLines(self._adx.update(dx), plus, minus)

    def convergence(self, tol: float = 1e-9) -> int:
        beta = 1.0 - 1.0 / self.period
        return max(self.warmup, self.period - 1 + decay_bars(beta, tol, order=2))
