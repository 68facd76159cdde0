"""Figures the report derives from the equity curve: monthly returns and the worst drawdowns.

Times are UTC ms. A bar's equity is marked at its close (``open_time + bar``); a month's end equity is the
last mark at or before midnight UTC that starts the next month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class MonthReturn:
    year: int
    month: int  # 1..12
    value: float  # simple return over the month, a fraction
    partial: bool  # the range starts or ends inside the month
    end_equity: float


def month_keys(close_time: IntArray) -> IntArray:
    """Months since 1970-01 (UTC) of marks at ``close_time``; a close exactly at midnight on the 1st belongs
    to the month before."""
    stamps = (close_time - 1).astype("datetime64[ms]").astype("datetime64[M]")
    return stamps.astype(np.int64)


def monthly_returns(open_time: IntArray, bar_ms: int, equity: FloatArray, start_equity: float) -> list[MonthReturn]:
    """Return of each calendar month (UTC) the range touches, from month-end equity; the first month is
    measured from ``start_equity`` (the balance before the first bar)."""
    n = int(equity.shape[0])
    if n == 0:
        return []
    close_time = open_time.astype(np.int64) + bar_ms
    keys = month_keys(close_time)
    last = np.append(np.flatnonzero(np.diff(keys) != 0), n - 1)
    ends = equity[last]
    before = np.concatenate(([start_equity], ends[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = ends / before - 1.0
    first_month_start = np.datetime64(int(keys[0]), "M").astype("datetime64[ms]").astype(np.int64)
    last_month_end = np.datetime64(int(keys[-1]) + 1, "M").astype("datetime64[ms]").astype(np.int64)
    out = []
    for i, (key, idx) in enumerate(zip(keys[last].tolist(), last.tolist(), strict=True)):
        partial = (i == 0 and int(open_time[0]) > int(first_month_start)) or (
            i == len(last) - 1 and int(close_time[idx]) < int(last_month_end)
        )
        out.append(MonthReturn(1970 + key // 12, key % 12 + 1, float(values[i]), partial, float(ends[i])))
    return out


def yearly_returns(months: list[MonthReturn], start_equity: float) -> dict[int, float]:
    """Each year's compounded return, from the equity at the previous year's last month end."""
    out: dict[int, float] = {}
    base = start_equity
    for year in sorted({m.year for m in months}):
        end = [m for m in months if m.year == year][-1].end_equity
        out[year] = end / base - 1.0 if base else float("nan")
        base = end
    return out


@dataclass(frozen=True, slots=True)
class Drawdown:
    depth: float  # the lowest equity / previous peak - 1, a negative fraction
    peak_ms: int  # when the previous peak was marked
    trough_ms: int
    recovered_ms: int | None  # the first mark back at the peak; None while still under water


def drawdown_curve(equity: FloatArray) -> FloatArray:
    """Equity over its running peak, minus one (0 at a new high, negative under water)."""
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, equity / peak - 1.0, 0.0)


def worst_drawdowns(times: IntArray, equity: FloatArray, count: int = 5) -> list[Drawdown]:
    """The ``count`` deepest separate drawdowns, deepest first. ``times`` mark ``equity`` (UTC ms)."""
    dd = drawdown_curve(equity)
    under = dd < 0
    if not under.any():
        return []
    edges = np.diff(under.astype(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)  # first index back at a peak (may be len(dd))
    depths = np.minimum.reduceat(dd, starts)
    order = np.argsort(depths, kind="stable")[:count]
    out = []
    for k in order.tolist():
        a, b = int(starts[k]), int(stops[k])
        trough = a + int(np.argmin(dd[a:b]))
        out.append(
            Drawdown(
                depth=float(depths[k]),
                peak_ms=int(times[max(a - 1, 0)]),
                trough_ms=int(times[trough]),
                recovered_ms=int(times[b]) if b < len(dd) else None,
            )
        )
    return out


def merge_intervals(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching ``(start, end)`` intervals merged, in order."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
