"""One performance tracker for backtest and live: equity marks, trades and costs in, metrics out."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from domain.metrics.errors import InvalidMetricsInput
from domain.metrics.performance import compute_metrics
from domain.model.candles import FloatArray, IntArray
from domain.model.trades import Trade

_MIN_CAPACITY = 256


class PerformanceTracker:
    """Accumulates an equity curve (one mark per bar close), closed trades and costs, and reports
    :func:`~domain.metrics.compute_metrics` over them on demand.

    Live trading calls :meth:`record` at each bar close (amortised O(1): marks go into preallocated numpy
    buffers that double when full), :meth:`add_trade` for each closed round trip and :meth:`add_costs` for
    each fill; the backtest builds one from whole arrays with :meth:`from_arrays`. Both give the same
    figures for the same marks. The first mark should be the equity before any fill; until there is one,
    :meth:`snapshot` reports a one-point curve at ``initial_equity``.

    The state (``open_time``, ``equity``, ``exposure``, ``trades``, ``fees_paid``, ``slippage_paid``) is
    what :meth:`from_arrays` takes back, so a live session can persist and restore it.
    """

    __slots__ = (
        "_equity",
        "_exposure",
        "_exposure_known",
        "_fees",
        "_initial_equity",
        "_n",
        "_periods_per_year",
        "_slippage",
        "_time",
        "_trades",
    )

    def __init__(self, periods_per_year: float, initial_equity: float, *, capacity: int = _MIN_CAPACITY) -> None:
        if not (periods_per_year > 0 and math.isfinite(periods_per_year)):
            raise InvalidMetricsInput(f"periods_per_year must be positive, got {periods_per_year}")
        if not math.isfinite(initial_equity):
            raise InvalidMetricsInput(f"initial_equity must be finite, got {initial_equity}")
        cap = max(int(capacity), 1)
        self._periods_per_year = float(periods_per_year)
        self._initial_equity = float(initial_equity)
        self._time: IntArray = np.empty(cap, dtype=np.int64)
        self._equity: FloatArray = np.empty(cap, dtype=np.float64)
        self._exposure: FloatArray = np.empty(cap, dtype=np.float64)
        self._exposure_known = True
        self._n = 0
        self._trades: list[Trade] = []
        self._fees = 0.0
        self._slippage = 0.0

    @classmethod
    def from_arrays(
        cls,
        periods_per_year: float,
        open_time: IntArray,
        equity: FloatArray,
        exposure: FloatArray | None = None,
        *,
        trades: Iterable[Trade] = (),
        fees_paid: float = 0.0,
        slippage_paid: float = 0.0,
        initial_equity: float | None = None,
    ) -> PerformanceTracker:
        """A tracker holding whole arrays at once (the backtest's curve, or a persisted live state).

        ``open_time`` is strictly increasing UTC ms, one per mark; without ``exposure`` the exposure figures
        are NaN. ``initial_equity`` defaults to the first mark (it is required for an empty curve). Curves of
        ``_MIN_CAPACITY`` marks or more (with exposure, contiguous) are adopted without a copy: the caller
        must not modify them afterwards.
        """
        t = np.asarray(open_time, dtype=np.int64)
        e = np.asarray(equity, dtype=np.float64)
        n = e.size
        if e.ndim != 1 or t.shape != e.shape:
            raise InvalidMetricsInput(f"open_time has shape {t.shape}, equity {e.shape}")
        if n > 1 and not bool(np.all(t[1:] > t[:-1])):
            raise InvalidMetricsInput("open_time must be strictly increasing")
        x = None if exposure is None else np.asarray(exposure, dtype=np.float64)
        if x is not None and x.shape != e.shape:
            raise InvalidMetricsInput(f"exposure has shape {x.shape}, equity {e.shape}")
        if initial_equity is None:
            if n == 0:
                raise InvalidMetricsInput("an empty curve needs an initial_equity")
            initial_equity = float(e[0])
        if n >= _MIN_CAPACITY and x is not None and all(a.flags.c_contiguous for a in (t, e, x)):
            # A long curve is adopted, not copied (a backtest's is 8 bytes x 3 per bar): the tracker only
            # ever appends past ``n``, which first moves it to new buffers, so it never writes into these.
            tracker = cls(periods_per_year, initial_equity, capacity=1)
            tracker._time, tracker._equity, tracker._exposure = t, e, x
        else:
            tracker = cls(periods_per_year, initial_equity, capacity=max(n, _MIN_CAPACITY))
            tracker._time[:n] = t
            tracker._equity[:n] = e
        if x is None:
            tracker._exposure[:n] = 0.0
            tracker._exposure_known = n == 0
        elif tracker._exposure is not x:
            tracker._exposure[:n] = x
        tracker._n = n
        tracker._trades.extend(trades)
        tracker._fees = float(fees_paid)
        tracker._slippage = float(slippage_paid)
        return tracker

    def _grow(self) -> None:
        n, cap = self._n, 2 * self._equity.size
        time = np.empty(cap, dtype=np.int64)
        equity = np.empty(cap, dtype=np.float64)
        exposure = np.empty(cap, dtype=np.float64)
        time[:n] = self._time[:n]
        equity[:n] = self._equity[:n]
        exposure[:n] = self._exposure[:n]
        self._time, self._equity, self._exposure = time, equity, exposure

    def record(self, time_ms: int, equity: float, exposure: float) -> None:
        """Append the mark of one bar close: its time (UTC ms, after the previous mark's), the equity and the
        gross exposure as a fraction of equity (0 when flat)."""
        n = self._n
        if n and time_ms <= self._time[n - 1]:
            raise InvalidMetricsInput(f"mark at {time_ms} is not after the previous one at {int(self._time[n - 1])}")
        if n == self._equity.size:
            self._grow()
        self._time[n] = time_ms
        self._equity[n] = equity
        self._exposure[n] = exposure
        self._n = n + 1

    def add_trade(self, trade: Trade) -> None:
        """Add one closed round trip (or partial exit) to the ledger."""
        self._trades.append(trade)

    def add_costs(self, fees: float = 0.0, slippage: float = 0.0) -> None:
        """Add the fees and slippage of a fill, in the quote currency."""
        self._fees += fees
        self._slippage += slippage

    def snapshot(self, benchmark_close: FloatArray | None = None) -> dict[str, float]:
        """Every metric over what has been recorded (see :func:`~domain.metrics.compute_metrics`)."""
        if self._n == 0:
            return compute_metrics(
                np.array([self._initial_equity]),
                self._trades,
                self._periods_per_year,
                self._fees,
                benchmark_close,
                slippage_paid=self._slippage,
            )
        return compute_metrics(
            self.equity,
            self._trades,
            self._periods_per_year,
            self._fees,
            benchmark_close,
            open_time=self.open_time,
            exposure=self.exposure if self._exposure_known else None,
            slippage_paid=self._slippage,
        )

    @property
    def open_time(self) -> IntArray:
        """Times of the marks (UTC ms), read-only."""
        view = self._time[: self._n]
        view.flags.writeable = False
        return view

    @property
    def equity(self) -> FloatArray:
        """The equity marks, read-only."""
        view = self._equity[: self._n]
        view.flags.writeable = False
        return view

    @property
    def exposure(self) -> FloatArray:
        """Gross exposure at each mark, read-only (zeros where it was not given)."""
        view = self._exposure[: self._n]
        view.flags.writeable = False
        return view

    @property
    def trades(self) -> tuple[Trade, ...]:
        return tuple(self._trades)

    @property
    def fees_paid(self) -> float:
        return self._fees

    @property
    def slippage_paid(self) -> float:
        return self._slippage

    @property
    def initial_equity(self) -> float:
        return self._initial_equity

    @property
    def periods_per_year(self) -> float:
        return self._periods_per_year

    def __len__(self) -> int:
        return self._n
