"""First-order linear recursions ``y[t] = beta * y[t-1] + alpha * x[t]`` (EMA, Wilder smoothing), computed
by the whole-series functions and by the incremental classes with exactly the same float operations.

Averages of price levels (EMA) run on deviations from a fixed ``centre``, their seed: ``z = y - centre``
follows the same recursion on ``x - centre`` (``alpha + beta == 1``) and ``y = centre + z``. An EMA of a
constant is then exactly that constant, whatever its value (the regime detector relies on a flat EMA of a
flat price). Smoothed magnitudes (Wilder's true ranges, gains, losses, DX) are not centred: they can decay
towards zero in a quiet market, and centring them on an old, larger seed would cost them their relative
precision there.

A plain loop over a million Python floats costs 0.1-0.15 s per recursion on the project's machines
(``tolist`` and the array rebuilt included), and ADX needs four of them. So the recursion runs in blocks of
``BLOCK`` bars (about 15 ms per million bars): inside block ``b`` a local recursion that starts from zero,

    local[j] = beta * local[j-1] + alpha * x[j]          (local[0] = alpha * x[0]),

runs for all blocks at once (one numpy operation per position ``j``), then

    y[j] = beta ** (j + 1) * anchor[b] + local[j]

where ``anchor[b]`` is ``y`` at the end of the previous block (a chain of ``len(x) / BLOCK`` Python steps).
That is algebraically the recursion, and it is not an approximation worth worrying about: the powers are
exact to an ulp, the local sums carry the usual rounding of the recursion. :class:`LinearScan` performs the
same operations bar by bar, so the incremental value equals the whole-series value bit for bit, as long as
both count blocks from the same first bar (the bar after the seed).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from domain.model.candles import FloatArray

BLOCK = 256


@lru_cache(maxsize=256)
def _powers(beta: float) -> tuple[float, ...]:
    """``beta ** (j + 1)`` for ``j`` in ``0..BLOCK-1`` (shared by both paths, so both use the same floats)."""
    return tuple(beta ** (j + 1) for j in range(BLOCK))


def linear_scan(x: FloatArray, alpha: float, beta: float, start: float, centre: float = 0.0) -> FloatArray:
    """``y[i] = beta * y[i-1] + alpha * x[i]`` for every ``i``, with ``y[-1] = start``, run on deviations from
    ``centre``; pass ``centre != 0`` only when ``alpha + beta == 1`` (then ``y - centre`` obeys the recursion)."""
    n = x.shape[0]
    if alpha == 1.0 and beta == 0.0:  # no memory (a period of 1): exactly the input, not centre + (x - centre)
        return x.astype(np.float64, copy=True)
    if n == 0:
        return np.empty(0)
    nb = -(-n // BLOCK)
    flat = np.zeros(nb * BLOCK)
    np.subtract(x, centre, out=flat[:n])
    cols = flat.reshape(nb, BLOCK).T.copy()  # row j: the j-th bar of every block
    local = np.empty_like(cols)
    np.multiply(cols[0], alpha, out=local[0])
    scaled = np.empty(nb)
    for j in range(1, BLOCK):
        np.multiply(local[j - 1], beta, out=local[j])
        np.multiply(cols[j], alpha, out=scaled)
        np.add(local[j], scaled, out=local[j])
    powers = _powers(beta)
    last_power = powers[-1]
    anchor = start - centre
    anchors = [anchor]
    for tail in local[-1, :-1].tolist():
        anchor = last_power * anchor + tail
        anchors.append(anchor)
    out = np.multiply(np.array(powers)[:, None], np.array(anchors)[None, :], out=cols)  # cols is free again
    out += local
    result = np.empty((nb, BLOCK))  # back to bar order: block by block
    np.add(out.T, centre, out=result)
    series: FloatArray = result.reshape(-1)[:n]
    return series


class LinearScan:
    """Bar-by-bar twin of :func:`linear_scan`: ``step(x)`` returns the next ``y``."""

    __slots__ = ("_alpha", "_anchor", "_beta", "_centre", "_j", "_local", "_powers")

    def __init__(self, alpha: float, beta: float, start: float, centre: float = 0.0) -> None:
        self._alpha = alpha
        self._beta = beta
        self._powers = _powers(beta)
        self._centre = centre
        self._anchor = start - centre
        self._local = 0.0
        self._j = 0

    def step(self, x: float) -> float:
        if self._alpha == 1.0 and self._beta == 0.0:
            return x
        j = self._j
        d = x - self._centre
        if j == 0:
            local = self._alpha * d
        else:
            local = self._beta * self._local + self._alpha * d
        z = self._powers[j] * self._anchor + local
        self._local = local
        j += 1
        if j == BLOCK:
            self._anchor = z
            j = 0
        self._j = j
        return self._centre + z


def seeded_scan(values: FloatArray, period: int, alpha: float, first: int = 0, *, centred: bool = False) -> FloatArray:
    """TA-Lib style smoothing: NaN before bar ``first + period - 1``, which holds the mean of
    ``values[first : first + period]``, then ``y = alpha * x + (1 - alpha) * y``. ``centred``: for levels, the
    mean is taken as deviations from the first value and the recursion is centred on the seed (exact for a
    constant); otherwise the mean is ``fsum / period`` (exactly rounded sum) and the recursion is plain."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    seed_at = first + period - 1
    if n <= seed_at:
        return out
    seed = _seed(values[first : seed_at + 1].tolist(), centred)
    out[seed_at] = seed
    centre = seed if centred else 0.0
    out[seed_at + 1 :] = linear_scan(values[seed_at + 1 :], alpha, 1.0 - alpha, seed, centre)
    return out


def _seed(values: list[float], centred: bool) -> float:
    """The mean of ``values``: for levels ``values[0]`` plus the exactly rounded mean deviation from it (a
    constant's mean is the constant), for magnitudes the exactly rounded sum over the count."""
    if centred:
        first = values[0]
        return first + math.fsum([v - first for v in values]) / len(values)
    return math.fsum(values) / len(values)


class SeededScan:
    """Bar-by-bar twin of :func:`seeded_scan` (fed from bar ``first`` on): NaN until ``period`` values."""

    __slots__ = ("_alpha", "_buffer", "_centred", "_period", "_scan")

    def __init__(self, period: int, alpha: float, *, centred: bool = False) -> None:
        self._period = period
        self._alpha = alpha
        self._centred = centred
        self._buffer: list[float] = []
        self._scan: LinearScan | None = None

    def update(self, x: float) -> float:
        scan = self._scan
        if scan is not None:
            return scan.step(x)
        self._buffer.append(x)
        if len(self._buffer) < self._period:
            return float("nan")
        seed = _seed(self._buffer, self._centred)
        self._scan = LinearScan(self._alpha, 1.0 - self._alpha, seed, seed if self._centred else 0.0)
        self._buffer = []
        return seed
