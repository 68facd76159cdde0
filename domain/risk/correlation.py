"""Causal rolling correlation of returns, computed for a whole history at once (the engine precomputes it
per symbol pair and reads one value per entry decision).

The value at bar ``t`` is the Pearson correlation of the two series over bars ``t - window + 1 .. t``: it
uses nothing after ``t``. It is NaN before ``window`` bars, where a window holds a NaN, and where either
series is constant over the window (correlation undefined).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from domain.model.candles import FloatArray
from domain.model.errors import InvalidParameter


def simple_returns(close: FloatArray) -> FloatArray:
    """``close[t] / close[t - 1] - 1``, NaN at bar 0 (aligned with ``close``)."""
    close = np.asarray(close, dtype=np.float64)
    out = np.full(close.shape[0], np.nan)
    if close.shape[0] > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[1:] = close[1:] / close[:-1] - 1.0
    return out


def _window_sums(values: FloatArray, window: int) -> FloatArray:
    """Sum over each trailing window, aligned at the window's last bar (the first ``window - 1`` are junk)."""
    c = np.cumsum(values)
    out = c.copy()
    out[window:] = c[window:] - c[:-window]
    return out


def _varies(values: FloatArray, window: int) -> npt.NDArray[np.bool_]:
    """Whether each trailing window of ``window`` bars holds at least two different values."""
    changes = np.zeros(values.shape[0])
    changes[1:] = values[1:] != values[:-1]
    return _window_sums(changes, window - 1) > 0.5


def rolling_correlation(a: FloatArray, b: FloatArray, window: int) -> FloatArray:
    """Rolling Pearson correlation of ``a`` and ``b`` over ``window`` bars, as an array aligned with them.

    Vectorised (running sums over series centred on their overall means, which keeps the cancellation
    error small for returns); O(n) time and memory whatever the window.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise InvalidParameter(f"rolling_correlation needs two 1-d series of one length, got {a.shape}, {b.shape}")
    if window < 2:
        raise InvalidParameter(f"the correlation window must be at least 2 bars, got {window}")
    n = a.shape[0]
    out = np.full(n, np.nan)
    if n < window:
        return out
    bad = np.isnan(a) | np.isnan(b)
    # Centring on the overall means is harmless (correlation is shift-invariant) and keeps the running
    # sums small; NaN bars are zeroed and the windows holding them are masked out at the end.
    ma = float(np.mean(a[~bad])) if not bad.all() else 0.0
    mb = float(np.mean(b[~bad])) if not bad.all() else 0.0
    x = np.where(bad, 0.0, a - ma)
    y = np.where(bad, 0.0, b - mb)
    sx = _window_sums(x, window)
    sy = _window_sums(y, window)
    sxx = _window_sums(x * x, window)
    syy = _window_sums(y * y, window)
    sxy = _window_sums(x * y, window)
    nbad = _window_sums(bad.astype(np.float64), window)
    cxx = sxx - sx * sx / window
    cyy = syy - sy * sy / window
    cxy = sxy - sx * sy / window
    # A constant window has no defined correlation: found exactly, by counting the changes from bar to
    # bar inside each window (integer counts, no rounding), rather than by a tolerance on the variance.
    ok = (nbad < 0.5) & _varies(a, window) & _varies(b, window) & (cxx > 0) & (cyy > 0)
    ok[: window - 1] = False
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = cxy / np.sqrt(cxx * cyy)
    out[ok] = np.clip(rho[ok], -1.0, 1.0)
    return out


def pairwise_rolling_correlations(returns: Mapping[str, FloatArray], window: int) -> dict[tuple[str, str], FloatArray]:
    """:func:`rolling_correlation` for every pair of symbols (aligned series), keyed both ways round."""
    names = sorted(returns)
    out: dict[tuple[str, str], FloatArray] = {}
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            rho = rolling_correlation(returns[first], returns[second], window)
            out[first, second] = rho
            out[second, first] = rho
    return out
