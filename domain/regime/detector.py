"""The regime detector: trend (up, down, sideways) x volatility (low, high) for every bar, causally.

Rules (``p`` is a :class:`RegimeParams`; ``r[t] = ln(close[t] / close[t-1])``):

1. **Realised volatility** ``sigma[t]``: the sample standard deviation of the last ``p.vol_bars`` log
   returns ``r[t - vol_bars + 1 .. t]``.
2. **Normal volatility** ``base[t]``: the median of ``sigma`` over the last ``p.vol_baseline_bars`` bars
   (``t`` included). It is the market's own yardstick, so the rules carry over between assets and eras.
3. **Volatility regime**, from ``ratio[t] = sigma[t] / base[t]``: it turns *high* when the ratio rises above
   ``p.vol_enter`` and back to *low* only when it falls below ``p.vol_exit``; in between it keeps its state
   (hysteresis, so that a ratio hovering near one threshold does not flap).
4. **Trend score** ``z[t] = ln(ema[t] / ema[t - L]) / (base[t] * sqrt(L))`` with ``ema`` the
   ``p.trend_ema``-bar EMA of closes and ``L = p.slope_bars``: how far the smoothed price moved over ``L``
   bars, in units of what normal noise moves a price in ``L`` bars. Scaling by ``base`` (not by the current
   ``sigma``) keeps a violent sell-off a *down* trend instead of drowning it in its own volatility.
5. **Trend regime**: *up* when ``z >= p.trend_enter``, *down* when ``z <= -p.trend_enter``, *sideways* when
   ``|z| < p.trend_exit``; in between it keeps its state (hysteresis). Up can turn into down directly.
6. **Warm-up**: a bar has a regime once every input exists, i.e. from bar :attr:`RegimeParams.warmup` on.
   Before it both arrays hold :data:`UNDEFINED`; hysteresis states start there as sideways / low.

Every value at bar ``t`` uses bars ``<= t`` only (EMA, trailing windows, a forward-running state machine), so
the regime of a bar never changes when later bars arrive: the detector over a prefix agrees with the detector
over the whole history on that prefix.

Conventions behind the defaults (1h crypto; not fitted to any dataset): a driftless random walk with constant
volatility reads mostly *sideways* and *low*; a move of one normal-noise standard deviation of the 8-day EMA
over three days starts a trend; volatility a quarter above its 90-day median is *high*.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from domain.indicators.core import ema
from domain.model.candles import BoolArray, CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.regime.types import Regime, Trend, Volatility

Int8Array = npt.NDArray[np.int8]

UP, SIDEWAYS, DOWN = 1, 0, -1
LOW, HIGH = 0, 1
UNDEFINED = -128
"""The value of ``trend`` and ``volatility`` on warm-up bars (no regime yet)."""

REGIMES: tuple[Regime, ...] = tuple(
    Regime(trend, vol) for trend in (Trend.UP, Trend.SIDEWAYS, Trend.DOWN) for vol in (Volatility.LOW, Volatility.HIGH)
)
"""The six regimes in report order: up/low, up/high, sideways/low, sideways/high, down/low, down/high."""

_TREND_OF = {UP: Trend.UP, SIDEWAYS: Trend.SIDEWAYS, DOWN: Trend.DOWN}
_VOL_OF = {LOW: Volatility.LOW, HIGH: Volatility.HIGH}
_KEEP = 127  # "keep the previous state" in the hysteresis machine


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """Detector settings; the defaults suit 1h candles (bars, not hours: scale them for other timeframes).

    - ``trend_ema`` (200, about 8 days): EMA period of closes whose slope is the trend.
    - ``slope_bars`` (72, 3 days): the slope is the EMA's log change over this many bars.
    - ``trend_enter`` (1.0) / ``trend_exit`` (0.5): trend score at which up/down starts / below which it ends.
    - ``vol_bars`` (72, 3 days): realised volatility is the std of this many log returns.
    - ``vol_baseline_bars`` (2160, 90 days): normal volatility is the median realised volatility over this many
      bars.
    - ``vol_enter`` (1.25) / ``vol_exit`` (1.0): volatility ratio above which *high* starts / below which it
      ends.
    """

    trend_ema: int = 200
    slope_bars: int = 72
    trend_enter: float = 1.0
    trend_exit: float = 0.5
    vol_bars: int = 72
    vol_baseline_bars: int = 2160
    vol_enter: float = 1.25
    vol_exit: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidParameter(f"regime {f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise InvalidParameter(f"regime {f.name} must be finite, got {value!r}")
        for name in ("trend_ema", "slope_bars", "vol_baseline_bars"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InvalidParameter(f"regime {name} must be a whole number >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.vol_bars, int) or self.vol_bars < 2:
            raise InvalidParameter(f"regime vol_bars must be a whole number >= 2, got {self.vol_bars!r}")
        if not 0 <= self.trend_exit <= self.trend_enter or self.trend_enter <= 0:
            raise InvalidParameter(
                f"regime thresholds need 0 <= trend_exit <= trend_enter and trend_enter > 0, "
                f"got trend_exit={self.trend_exit}, trend_enter={self.trend_enter}"
            )
        if not 0 < self.vol_exit <= self.vol_enter:
            raise InvalidParameter(
                f"regime thresholds need 0 < vol_exit <= vol_enter, got vol_exit={self.vol_exit}, "
                f"vol_enter={self.vol_enter}"
            )

    @property
    def warmup(self) -> int:
        """Index of the first bar with a regime: the longest chain of trailing windows (see the module rules)."""
        vol_ready = self.vol_bars + self.vol_baseline_bars - 1  # sigma needs vol_bars returns, i.e. bars 0..vol_bars
        trend_ready = self.trend_ema - 1 + self.slope_bars
        return max(vol_ready, trend_ready)


@dataclass(frozen=True, slots=True, eq=False)
class RegimeSeries:
    """The regime of every bar of a candle series, as parallel arrays.

    ``trend`` (int8): 1 up, 0 sideways, -1 down; ``volatility`` (int8): 1 high, 0 low; both
    :data:`UNDEFINED` on the first ``warmup`` bars. ``trend_score`` and ``vol_ratio`` (float64, NaN in the
    warm-up) are the quantities the states come from, for charts and diagnostics.
    """

    trend: Int8Array
    volatility: Int8Array
    trend_score: FloatArray
    vol_ratio: FloatArray
    warmup: int

    def __len__(self) -> int:
        return int(self.trend.shape[0])

    @property
    def valid(self) -> BoolArray:
        """True on bars that have a regime (after the warm-up)."""
        valid: BoolArray = np.not_equal(self.trend, UNDEFINED)
        return valid

    def at(self, i: int) -> Regime | None:
        """The regime at bar ``i`` (negative indexes count from the end); None in the warm-up."""
        trend = int(self.trend[i])
        if trend == UNDEFINED:
            return None
        return Regime(_TREND_OF[trend], _VOL_OF[int(self.volatility[i])])

    def codes(self) -> Int8Array:
        """Each bar's index into :data:`REGIMES` (0..5), -1 in the warm-up; handy for ``np.bincount``."""
        # REGIMES order: trend up, sideways, down (1 - trend = 0, 1, 2), then low, high.
        out = ((1 - self.trend.astype(np.int16)) * 2 + self.volatility).astype(np.int8)
        out[~self.valid] = -1
        return out

    def labels(self) -> list[str]:
        """Each bar's regime as text (``up/low`` ...), ``warmup`` before the first regime."""
        names = [str(r) for r in REGIMES]
        return ["warmup" if c < 0 else names[c] for c in self.codes().tolist()]


def detect(candles: CandleSeries, params: RegimeParams | None = None) -> RegimeSeries:
    """The regime of every bar of ``candles`` by the rules in this module's docstring. Causal."""
    p = RegimeParams() if params is None else params
    close = candles.close
    n = close.shape[0]
    warmup = min(p.warmup, n)

    returns = np.full(n, np.nan)
    returns[1:] = np.diff(np.log(close))
    sigma = _rolling_std(returns, p.vol_bars, first=1)
    base = _rolling_median(sigma, p.vol_baseline_bars, first=p.vol_bars)

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(base > 0, sigma / base, np.where(sigma > 0, np.inf, 1.0))
        smooth = ema(close, p.trend_ema)
        slope = np.full(n, np.nan)
        if n > p.slope_bars:
            slope[p.slope_bars :] = np.log(smooth[p.slope_bars :] / smooth[: -p.slope_bars])
        scale = base * math.sqrt(p.slope_bars)
        score = np.where(scale > 0, slope / scale, np.sign(slope) * np.inf)
        score = np.where(slope == 0, 0.0, score)
    ratio[:warmup] = np.nan
    score[:warmup] = np.nan

    trend_signal = np.full(n, _KEEP, dtype=np.int8)
    trend_signal[np.abs(score) < p.trend_exit] = SIDEWAYS
    trend_signal[score >= p.trend_enter] = UP
    trend_signal[score <= -p.trend_enter] = DOWN
    vol_signal = np.full(n, _KEEP, dtype=np.int8)
    vol_signal[ratio < p.vol_exit] = LOW
    vol_signal[ratio > p.vol_enter] = HIGH

    trend = _hold(trend_signal, warmup, SIDEWAYS)
    volatility = _hold(vol_signal, warmup, LOW)
    for a in (trend, volatility, score, ratio):
        a.setflags(write=False)
    return RegimeSeries(trend, volatility, score, ratio, warmup)


def _hold(signal: Int8Array, warmup: int, initial: int) -> Int8Array:
    """Forward-fill a state machine: ``_KEEP`` repeats the previous state; the state is ``initial`` when the
    first post-warm-up bars say ``_KEEP``; bars before ``warmup`` are :data:`UNDEFINED`."""
    n = signal.shape[0]
    sig = signal.copy()
    sig[:warmup] = initial
    decided = sig != _KEEP
    idx = np.where(decided, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    out = sig[idx]
    out[:warmup] = UNDEFINED
    return out


def _rolling_std(x: FloatArray, window: int, first: int) -> FloatArray:
    """Sample std of ``x[t - window + 1 .. t]``, NaN until ``first + window - 1`` (``x`` is finite from
    ``first``). Running sums keep it O(n); log returns are centred near zero, so the sums lose no precision."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < first + window:
        return out
    v = x[first:]
    c1 = np.concatenate(([0.0], np.cumsum(v)))
    c2 = np.concatenate(([0.0], np.cumsum(v * v)))
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    var = (s2 - s1 * s1 / window) / (window - 1)
    out[first + window - 1 :] = np.sqrt(np.maximum(var, 0.0))
    return out


def _rolling_median(x: FloatArray, window: int, first: int) -> FloatArray:
    """Median of ``x[t - window + 1 .. t]``, NaN until ``first + window - 1`` (``x`` is finite from
    ``first``). A sorted window updated bar by bar: O(n log w) searches and no n-by-w temporaries."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < first + window:
        return out
    values = x[first:].tolist()
    ordered: list[float] = []
    medians: list[float] = []
    mid = window // 2
    odd = window % 2 == 1
    for j, v in enumerate(values):
        insort(ordered, v)
        if j >= window:
            del ordered[bisect_left(ordered, values[j - window])]
        if j >= window - 1:
            medians.append(ordered[mid] if odd else 0.5 * (ordered[mid - 1] + ordered[mid]))
    out[first + window - 1 :] = medians
    return out
