"""Shared pieces of the indicators: result tuples, parameter checks and the convergence arithmetic.

Vocabulary used by every indicator's docstring:

- **warm-up**: the number of leading bars whose value is NaN, i.e. the index of the first valid value
  (exposed as the ``warmup`` attribute of the indicator's incremental class, e.g. ``EMA(20).warmup``).
- **convergence**: the first bar from which the value no longer depends (beyond a relative ``tol``) on how
  much history precedes it (``convergence(tol)`` method). Windowed indicators forget everything older than
  their window, so their convergence equals their warm-up (values agree to rounding). Recursive ones
  (EMA, Wilder) remember their seed with a weight ``beta ** m`` after ``m`` bars; their convergence is the
  warm-up plus the bars needed for that weight (times the number of chained recursions for chains, such
  as ADX or the MACD signal) to fall below ``tol / SEED_MARGIN``, so a seed off by up to
  ``SEED_MARGIN`` times the indicator's own scale has faded below ``tol``.
"""

from __future__ import annotations

import math
import operator
from typing import Generic, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from domain.model.candles import FloatArray
from domain.model.errors import InvalidParameter

T = TypeVar("T")

SEED_MARGIN = 1e3
"""How far (as a multiple of the indicator's scale) a recursive seed may be off for ``convergence`` to hold."""


class Bands(NamedTuple, Generic[T]):
    """A channel around a middle line: arrays for a whole series, floats for one bar."""

    upper: T
    middle: T
    lower: T


class MACDLines(NamedTuple, Generic[T]):
    """MACD line (fast EMA - slow EMA), its signal line (EMA of the MACD line) and their difference."""

    macd: T
    signal: T
    histogram: T


class ADXLines(NamedTuple, Generic[T]):
    """Average directional index and the two directional indicators, all on a 0-100 scale."""

    adx: T
    plus_di: T
    minus_di: T


class StochasticLines(NamedTuple, Generic[T]):
    """Stochastic oscillator: %K (smoothed) and %D (its moving average), on a 0-100 scale."""

    k: T
    d: T


def check_period(period: int, name: str = "period", minimum: int = 1) -> int:
    """``period`` as an ``int``; refuses non-integers and values below ``minimum``."""
    try:
        value = operator.index(period)
    except TypeError:
        raise InvalidParameter(f"indicator {name} must be an integer, got {period!r}") from None
    if value < minimum:
        raise InvalidParameter(f"indicator {name} must be >= {minimum}, got {value}")
    return value


def as_series(values: npt.ArrayLike) -> FloatArray:
    """One-dimensional float64 view or copy of ``values``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidParameter(f"indicator input must be one-dimensional, got shape {arr.shape}")
    return arr


def as_columns(*columns: npt.ArrayLike) -> list[FloatArray]:
    """Several inputs of one bar series (high, low, close...): one-dimensional and of equal length."""
    arrays = [as_series(c) for c in columns]
    if len({a.shape[0] for a in arrays}) > 1:
        raise InvalidParameter(f"indicator inputs must have equal lengths, got {[a.shape[0] for a in arrays]}")
    return arrays


def nan_series(n: int) -> FloatArray:
    return np.full(n, np.nan)


def decay_bars(beta: float, tol: float, order: int = 1) -> int:
    """Bars ``m`` after which a seed's residual weight ``(1 + m) ** (order - 1) * beta ** m`` stays below
    ``tol / SEED_MARGIN``; ``order`` is the number of chained recursions with decay at most ``beta``."""
    if not 0.0 < tol < 1.0:
        raise InvalidParameter(f"convergence tolerance must be in (0, 1), got {tol}")
    if beta <= 0.0:
        return 0
    log_target = math.log(tol / SEED_MARGIN)
    log_beta = math.log(beta)

    def log_weight(m: int) -> float:
        return (order - 1) * math.log1p(m) + m * log_beta

    # The weight rises until its peak, then falls monotonically: bisect on the falling side.
    lo = max(0, math.ceil(-(order - 1) / log_beta - 1.0))
    if log_weight(lo) <= log_target:
        return lo
    hi = max(lo + 1, math.ceil(log_target / log_beta))
    while log_weight(hi) > log_target:
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if log_weight(mid) <= log_target:
            hi = mid
        else:
            lo = mid
    return hi
