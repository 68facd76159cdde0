"""Sliding-window aggregates (sum, shifted moments, weighted sum, max, min, mean absolute deviation),
vectorised over a whole series and bar by bar, with exactly the same float operations on both paths.

Sums use the prefix/suffix block decomposition (van Herk / Gil-Werman): cut the series into blocks of
``period`` bars counted from its first bar. A window that ends at bar ``t`` inside block ``b`` is the suffix
of block ``b - 1`` from ``t - period + 1`` plus the prefix of block ``b`` up to ``t`` (or exactly one
block). Prefix sums run forwards and suffix sums backwards inside each block, so

- the whole series costs O(n) whatever the period (two ``cumsum`` calls on a ``(blocks, period)`` array);
- every window sum adds at most ``2 * period`` numbers: the rounding error is bounded and does not drift
  with the length of the series, unlike a running total (a cumulative sum differenced, or TA-Lib's add-one
  subtract-one total);
- the incremental classes keep the current block's prefix and the previous block's suffixes (computed
  once per block, O(1) amortised) and perform the identical additions, so values agree bit for bit when
  both start from the same bar. A series that starts elsewhere cuts its blocks elsewhere and may differ in
  the last bits (well below 1e-12 relative).

Variances use the same blocks on deviations from a local shift (the first value of the block in which the
window ends), which keeps ``sum(d**2) - sum(d)**2 / n`` well conditioned at any price level.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from domain.model.candles import FloatArray

NAN = float("nan")


def _blocks(x: FloatArray, period: int, fill: float) -> tuple[FloatArray, int]:
    n = x.shape[0]
    nb = -(-n // period)
    flat = np.full(nb * period, fill)
    flat[:n] = x
    return flat.reshape(nb, period), nb


def _prefix(blocks: FloatArray) -> FloatArray:
    return np.cumsum(blocks, axis=1).reshape(-1)


def _suffix(blocks: FloatArray) -> FloatArray:
    return np.ascontiguousarray(np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]).reshape(-1)


def _combine(suffix: FloatArray, prefix: FloatArray, n: int, period: int) -> FloatArray:
    """``suffix[t - period + 1] + prefix[t]`` for windows across two blocks, ``prefix[t]`` for whole blocks."""
    out = np.full(n, np.nan)
    out[period - 1 :] = suffix[: n - period + 1] + prefix[period - 1 : n]
    out[period - 1 :: period] = prefix[period - 1 : n : period]
    return out


def window_sum(x: FloatArray, period: int) -> FloatArray:
    """Sum of the ``period`` values ending at each bar; NaN before bar ``period - 1``."""
    n = x.shape[0]
    if n < period:
        return np.full(n, np.nan)
    blocks, _ = _blocks(x, period, 0.0)
    return _combine(_suffix(blocks), _prefix(blocks), n, period)


class WindowSum:
    """Bar-by-bar twin of :func:`window_sum`."""

    __slots__ = ("_block", "_j", "_period", "_prefix", "_suffix")

    def __init__(self, period: int) -> None:
        self._period = period
        self._block = [0.0] * period
        self._j = 0
        self._prefix = 0.0
        self._suffix: list[float] | None = None

    def update(self, x: float) -> float:
        j = self._j
        period = self._period
        block = self._block
        block[j] = x
        prefix = x if j == 0 else self._prefix + x
        self._prefix = prefix
        if j == period - 1:
            suffix = [0.0] * period
            acc = block[-1]
            suffix[-1] = acc
            for k in range(period - 2, -1, -1):
                acc = acc + block[k]
                suffix[k] = acc
            self._suffix = suffix
            self._j = 0
            return prefix
        self._j = j + 1
        if self._suffix is None:
            return NAN
        return self._suffix[j + 1] + prefix


def _shifted(x: FloatArray, period: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Blocks, the shift of the window ending at each bar (its block's first value), the deviations of
    each block from its own shift (for prefixes) and from the next block's shift (for suffixes)."""
    n = x.shape[0]
    blocks, _ = _blocks(x, period, 0.0)
    shift = blocks[:, 0].copy()
    centre = np.repeat(shift, period)[:n]
    dev = blocks - shift[:, None]
    # the suffix of block b - 1 is measured from block b's shift (the last row is never used)
    ahead = blocks - np.append(shift[1:], 0.0)[:, None]
    return centre, dev, ahead, blocks


def window_mean(x: FloatArray, period: int) -> FloatArray:
    """Mean of the ``period`` values ending at each bar, as ``centre + sum(x - centre) / period`` where
    ``centre`` is a value inside the window (see :func:`window_moments`): a constant window gives exactly the
    constant. NaN before bar ``period - 1``."""
    n = x.shape[0]
    if n < period:
        return np.full(n, np.nan)
    centre, dev, ahead, _ = _shifted(x, period)
    s1 = _combine(_suffix(ahead), _prefix(dev), n, period)
    mean: FloatArray = centre + s1 / period
    return mean


def window_moments(x: FloatArray, period: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(centre, s1, s2)`` for the window of ``period`` values ending at each bar: ``s1 = sum(d)`` and
    ``s2 = sum(d * d)`` with ``d = x - centre`` and ``centre`` the first value of the block in which the
    window ends (a value inside the window, which keeps the sums small and well conditioned). NaN before
    bar ``period - 1``. Mean ``centre + s1 / period``, variance ``(s2 - s1 * s1 / period) / (period - ddof)``."""
    n = x.shape[0]
    if n < period:
        nan = np.full(n, np.nan)
        return nan, nan.copy(), nan.copy()
    centre, dev, ahead, _ = _shifted(x, period)
    s1 = _combine(_suffix(ahead), _prefix(dev), n, period)
    s2 = _combine(_suffix(ahead * ahead), _prefix(dev * dev), n, period)
    return centre, s1, s2


class WindowMoments:
    """Bar-by-bar twin of :func:`window_moments` (and :func:`window_mean`): ``update(x)`` returns
    ``(centre, s1, s2)``, NaN sums until the window is full."""

    __slots__ = ("_block", "_j", "_p1", "_p2", "_period", "_q1", "_q2", "_shift", "_started")

    def __init__(self, period: int) -> None:
        self._period = period
        self._block = [0.0] * period
        self._j = 0
        self._shift = 0.0
        self._p1 = 0.0
        self._p2 = 0.0
        self._q1: list[float] | None = None
        self._q2: list[float] | None = None
        self._started = False

    def update(self, x: float) -> tuple[float, float, float]:
        j = self._j
        period = self._period
        if j == 0:
            if self._started:
                self._suffixes(x)
            self._started = True
            self._shift = x
        shift = self._shift
        self._block[j] = x
        d = x - shift
        if j == 0:
            p1 = d
            p2 = d * d
        else:
            p1 = self._p1 + d
            p2 = self._p2 + d * d
        self._p1 = p1
        self._p2 = p2
        if j == period - 1:
            self._j = 0
            return shift, p1, p2
        self._j = j + 1
        q1 = self._q1
        q2 = self._q2
        if q1 is None or q2 is None:
            return shift, NAN, NAN
        return shift, q1[j + 1] + p1, q2[j + 1] + p2

    def _suffixes(self, shift: float) -> None:
        """Suffix sums of the block just completed, as deviations from the new block's first value."""
        period = self._period
        q1 = [0.0] * period
        q2 = [0.0] * period
        a1 = 0.0
        a2 = 0.0
        for k in range(period - 1, -1, -1):
            e = self._block[k] - shift
            if k == period - 1:
                a1 = e
                a2 = e * e
            else:
                a1 = a1 + e
                a2 = a2 + e * e
            q1[k] = a1
            q2[k] = a2
        self._q1 = q1
        self._q2 = q2


def window_weighted_sum(x: FloatArray, period: int) -> FloatArray:
    """``sum((i + 1) * x[t - period + 1 + i] for i in range(period))`` at each bar (linear weights, the
    newest value weighted ``period``); NaN before bar ``period - 1``.

    Across two blocks: ``(B[s] + A[t]) + L * P[t]`` with ``P``/``A`` the plain/weighted prefix sums of block
    ``b`` (weights 1, 2...), ``B`` the suffix sums of the suffix sums of block ``b - 1`` (weights 1, 2...
    from the window's start) and ``L = period - 1 - t % period`` the number of values taken from block
    ``b - 1``."""
    n = x.shape[0]
    if n < period:
        return np.full(n, np.nan)
    blocks, nb = _blocks(x, period, 0.0)
    weights = np.arange(1, period + 1, dtype=np.float64)
    plain = _prefix(blocks)
    weighted = _prefix(blocks * weights)
    suffix2 = _suffix(_suffix(blocks).reshape(nb, period))
    count = np.tile(period - 1 - np.arange(period, dtype=np.float64), nb)
    out = np.full(n, np.nan)
    out[period - 1 :] = (suffix2[: n - period + 1] + weighted[period - 1 : n]) + count[period - 1 : n] * plain[
        period - 1 : n
    ]
    out[period - 1 :: period] = weighted[period - 1 : n : period]
    return out


class WindowWeightedSum:
    """Bar-by-bar twin of :func:`window_weighted_sum`."""

    __slots__ = ("_block", "_j", "_period", "_plain", "_suffix2", "_weighted")

    def __init__(self, period: int) -> None:
        self._period = period
        self._block = [0.0] * period
        self._j = 0
        self._plain = 0.0
        self._weighted = 0.0
        self._suffix2: list[float] | None = None

    def update(self, x: float) -> float:
        j = self._j
        period = self._period
        block = self._block
        block[j] = x
        if j == 0:
            plain = x
            weighted = x * 1.0
        else:
            plain = self._plain + x
            weighted = self._weighted + x * float(j + 1)
        self._plain = plain
        self._weighted = weighted
        if j == period - 1:
            suffix = [0.0] * period
            suffix2 = [0.0] * period
            acc = block[-1]
            acc2 = acc
            suffix[-1] = acc
            suffix2[-1] = acc2
            for k in range(period - 2, -1, -1):
                acc = acc + block[k]
                suffix[k] = acc
                acc2 = acc2 + acc
                suffix2[k] = acc2
            self._suffix2 = suffix2
            self._j = 0
            return weighted
        self._j = j + 1
        if self._suffix2 is None:
            return NAN
        return (self._suffix2[j + 1] + weighted) + float(period - 1 - j) * plain


def _window_extreme(x: FloatArray, period: int, fill: float, op: np.ufunc) -> FloatArray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    blocks, _ = _blocks(x, period, fill)
    prefix = op.accumulate(blocks, axis=1).reshape(-1)
    suffix = np.ascontiguousarray(op.accumulate(blocks[:, ::-1], axis=1)[:, ::-1]).reshape(-1)
    out[period - 1 :] = op(suffix[: n - period + 1], prefix[period - 1 : n])
    return out


def window_max(x: FloatArray, period: int) -> FloatArray:
    """Highest of the ``period`` values ending at each bar (exact: no rounding); NaN before ``period - 1``."""
    return _window_extreme(x, period, -np.inf, np.maximum)


def window_min(x: FloatArray, period: int) -> FloatArray:
    """Lowest of the ``period`` values ending at each bar; NaN before bar ``period - 1``."""
    return _window_extreme(x, period, np.inf, np.minimum)


class Window:
    """The last ``period`` values, for the incremental max, min and mean absolute deviation."""

    __slots__ = ("_values", "period")

    def __init__(self, period: int) -> None:
        self.period = period
        self._values: deque[float] = deque(maxlen=period)

    def push(self, x: float) -> bool:
        """Add ``x``; True once the window is full."""
        self._values.append(x)
        return len(self._values) == self.period

    def oldest(self) -> float:
        return self._values[0]

    def max(self) -> float:
        return max(self._values)

    def min(self) -> float:
        return min(self._values)

    def abs_deviation_sum(self, centre: float) -> float:
        """``sum(|v - centre|)`` oldest first, as :func:`window_abs_deviation_sum` adds them."""
        values = iter(self._values)
        acc = abs(next(values) - centre)
        for v in values:
            acc = acc + abs(v - centre)
        return acc


def window_abs_deviation_sum(x: FloatArray, centre: FloatArray, period: int) -> FloatArray:
    """``sum(|x[i] - centre[t]|)`` over the window ending at ``t`` (oldest first); NaN before ``period - 1``.

    Not decomposable into block sums (the centre moves with ``t``), so it costs ``period`` vector passes."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    m = n - period + 1
    mid = centre[period - 1 :]
    acc = np.abs(x[:m] - mid)
    tmp = np.empty(m)
    for k in range(1, period):
        np.subtract(x[k : k + m], mid, out=tmp)
        np.abs(tmp, out=tmp)
        np.add(acc, tmp, out=acc)
    out[period - 1 :] = acc
    return out
