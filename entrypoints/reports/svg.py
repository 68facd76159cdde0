"""Inline SVG building blocks: scales, nice ticks, UTC time ticks, downsampling and path strings.

Charts are drawn in a fixed ``viewBox`` (``WIDTH`` wide) and scale with the page. Long series are reduced to
the minimum and maximum of each pixel column before drawing, so spikes and drawdown troughs survive and
the file stays small whatever the number of bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from entrypoints.reports.fmt import DAY_MS, HOUR_MS, esc

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

WIDTH = 1160
LEFT = 64
RIGHT = 16
PLOT_W = WIDTH - LEFT - RIGHT
GRID = "#e5e7eb"
AXIS_TEXT = "#6b7280"


@dataclass(frozen=True, slots=True)
class TimeScale:
    """UTC ms to x in the viewBox."""

    t0: int
    t1: int
    left: float = LEFT
    width: float = PLOT_W

    def __call__(self, t: npt.ArrayLike) -> FloatArray:
        span = max(self.t1 - self.t0, 1)
        return self.left + (np.asarray(t, dtype=np.float64) - self.t0) / span * self.width

    def x(self, t: int) -> float:
        return float(self(np.array([t]))[0])


@dataclass(frozen=True, slots=True)
class ValueScale:
    """Values to y in the viewBox, linear or logarithmic; ``lo``/``hi`` map to the bottom/top."""

    lo: float
    hi: float
    top: float
    height: float
    log: bool = False

    def __call__(self, v: npt.ArrayLike) -> FloatArray:
        values = np.asarray(v, dtype=np.float64)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                lo, hi = math.log(self.lo), math.log(self.hi)
                frac = (np.log(np.where(values > 0, values, np.nan)) - lo) / (hi - lo)
        else:
            frac = (values - self.lo) / (self.hi - self.lo)
        return self.top + (1.0 - frac) * self.height

    def y(self, v: float) -> float:
        return float(self(np.array([v]))[0])

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def ticks(self, target: int = 5) -> list[float]:
        return log_ticks(self.lo, self.hi, target) if self.log else nice_ticks(self.lo, self.hi, target)


def value_scale(
    values: list[FloatArray], top: float, height: float, log: bool = False, include: tuple[float, ...] = ()
) -> ValueScale:
    """A scale covering the finite values (and ``include``), padded a little; log only if all are positive."""
    finite = [a[np.isfinite(a)] for a in values]
    parts = [a for a in finite if a.size] + [np.array(include, dtype=np.float64)]
    data = np.concatenate(parts) if parts else np.array([0.0])
    if data.size == 0:
        data = np.array([0.0, 1.0])
    lo, hi = float(data.min()), float(data.max())
    if log and lo > 0:
        pad = (math.log(hi) - math.log(lo)) * 0.04 or 0.05
        return ValueScale(lo * math.exp(-pad), hi * math.exp(pad), top, height, log=True)
    if hi == lo:
        lo, hi = (lo - 1, hi + 1) if lo == 0 else (lo - abs(lo) * 0.05, hi + abs(hi) * 0.05)
    pad = (hi - lo) * 0.04
    return ValueScale(lo - pad if lo != 0 else lo, hi + pad if hi != 0 else hi, top, height)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round values (1, 2, 2.5, 5 x 10^k steps) inside ``[lo, hi]``, about ``target`` of them."""
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return [lo]
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag
    for m in (1, 2, 2.5, 5, 10):
        step = m * mag
        if span / step <= target:
            break
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def log_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """1-2-5 ticks per decade inside ``[lo, hi]``; linear nice ticks when the range spans too little."""
    out: list[float] = []
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        out = [
            m * 10.0**k
            for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            for m in mantissas
            if lo <= m * 10.0**k <= hi
        ]
        if len(out) <= target + 2:
            break
    if len(out) < 3:
        return [t for t in nice_ticks(lo, hi, target) if t > 0]
    return out


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def time_ticks(t0: int, t1: int, target: int = 9) -> list[tuple[int, str]]:
    """Tick times and labels (UTC) on round hours, days, weeks, months or years."""
    span = max(t1 - t0, 1)
    fixed = (HOUR_MS, 2 * HOUR_MS, 3 * HOUR_MS, 6 * HOUR_MS, 12 * HOUR_MS, DAY_MS, 2 * DAY_MS, 7 * DAY_MS)
    for step in fixed:
        if span / step <= target:
            offset = 4 * DAY_MS if step == 7 * DAY_MS else 0  # weeks start on Monday (1970-01-01 was a Thursday)
            first = -(-(t0 - offset) // step) * step + offset
            out: list[tuple[int, str]] = []
            for t in range(first, t1 + 1, step):
                d = _dt(t)
                day = f"{_MONTHS[d.month - 1]} {d.day}"
                if step >= DAY_MS:
                    label = day if d.month != 1 or d.day > 7 or step < 7 * DAY_MS else f"{day}, {d.year}"
                elif d.hour == 0:
                    label = day
                else:
                    label = f"{day} {d:%H:%M}" if not out else f"{d:%H:%M}"
                out.append((t, label))
            return out
    start = _dt(t0)
    first_month = start.year * 12 + start.month - 1
    end_month = _dt(t1).year * 12 + _dt(t1).month - 1
    months = end_month - first_month + 1
    for step in (1, 2, 3, 6, 12, 24, 60, 120, 240):
        if months / step <= target:
            break
    out = []
    for key in range(first_month, end_month + 1):
        if key % step:
            continue
        t = int(datetime(key // 12, key % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000)
        if not t0 <= t <= t1:
            continue
        year, month = key // 12, key % 12 + 1
        if step >= 12:
            label = str(year)
        else:
            label = f"{_MONTHS[month - 1]} {year}" if month == 1 or not out else _MONTHS[month - 1]
        out.append((t, label))
    return out


def minmax_indices(values: FloatArray, buckets: int) -> IntArray:
    """Indices to draw: the lowest and highest value of each of ``buckets`` equal runs of points, plus the
    first and last point. A run with no finite value keeps one NaN point, which breaks the line there."""
    n = int(values.shape[0])
    if n <= 2 * buckets:
        return np.arange(n, dtype=np.int64)
    size = -(-n // buckets)
    m = n // size
    body = values[: m * size].reshape(m, size)
    nan = np.isnan(body)
    base = np.arange(m, dtype=np.int64) * size
    lo = np.where(nan, np.inf, body).argmin(axis=1) + base
    hi = np.where(nan, -np.inf, body).argmax(axis=1) + base
    rest = np.arange(m * size, n, dtype=np.int64)
    return np.unique(np.concatenate((lo, hi, rest, np.array([0, n - 1], dtype=np.int64))))


def last_per_bucket(n: int, buckets: int) -> IntArray:
    """One index per bucket (its last point), for hover read-outs."""
    if n <= buckets:
        return np.arange(n, dtype=np.int64)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)[1:] - 1
    return np.unique(edges)


def _runs(ok: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``[start, stop)`` runs where ``ok`` holds."""
    edges = np.diff(ok.astype(np.int8), prepend=0, append=0)
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _pairs(xs: list[float], ys: list[float]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def line_path(xs: FloatArray, ys: FloatArray) -> str:
    """``d`` of a polyline, broken where y is not finite."""
    parts = []
    for a, b in _runs(np.isfinite(xs) & np.isfinite(ys)):
        px, py = xs[a:b].tolist(), ys[a:b].tolist()
        parts.append(f"M{px[0]:.1f},{py[0]:.1f}" + (f"L{_pairs(px[1:], py[1:])}" if b - a > 1 else "h0.1"))
    return "".join(parts)


def area_path(xs: FloatArray, ys: FloatArray, base: float) -> str:
    """``d`` of the area between a line and the horizontal ``base``, broken where y is not finite."""
    parts = []
    for a, b in _runs(np.isfinite(xs) & np.isfinite(ys)):
        px, py = xs[a:b].tolist(), ys[a:b].tolist()
        parts.append(f"M{px[0]:.1f},{base:.1f}L{_pairs(px, py)} {px[-1]:.1f},{base:.1f}Z")
    return "".join(parts)


def time_grid(scale: TimeScale, top: float, bottom: float, labels_at: float | None) -> str:
    """Vertical grid lines at the time ticks, with labels under ``labels_at`` when given."""
    out = []
    for t, label in time_ticks(scale.t0, scale.t1, target=max(4, int(scale.width // 120))):
        x = scale.x(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="{GRID}"/>')
        if labels_at is not None:
            out.append(f'<text x="{x:.1f}" y="{labels_at:.1f}" text-anchor="middle" class="ax">{esc(label)}</text>')
    return "".join(out)


def value_grid(
    scale: ValueScale, left: float, right: float, label: Callable[[float], str], target: int = 5, zero: bool = False
) -> str:
    """Horizontal grid lines with labels left of the plot; ``zero`` draws the 0 line darker."""
    out = []
    for v in scale.ticks(target):
        y = scale.y(v)
        if not math.isfinite(y) or y < scale.top - 0.5 or y > scale.bottom + 0.5:
            continue
        colour = "#9ca3af" if zero and v == 0 else GRID
        out.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}"/>')
        out.append(f'<text x="{left - 6:.1f}" y="{y + 3.5:.1f}" text-anchor="end" class="ax">{esc(label(v))}</text>')
    return "".join(out)
