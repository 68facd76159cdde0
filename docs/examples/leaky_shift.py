"""A leaky strategy, on purpose: a shift into the future (docs/strategy-checks.md).

Momentum is ``close / close.shift(period) - 1``; this one was written ``close.shift(-period) / close - 1``:
the return of the *next* ``period`` bars, known only ``period`` bars later. ``atb strategies check`` catches
it: the decision at bar t changes when the bars after t are replaced, and differs on any prefix ending at t.
"""

from __future__ import annotations

import numpy as np

from domain.strategies.api import CandleSeries, Context, Param, Signals, Strategy


class LeakyShift(Strategy):
    """Long while the momentum over ``period`` bars is positive (look-ahead: it is the coming bars' return)."""

    name = "leaky_shift"
    version = "0.1.0"
    description = "momentum shifted the wrong way (a look-ahead example)"

    period = Param(24, low=1, high=1000, help="bars of the momentum")

    @property
    def warmup(self) -> int:
        return int(self.period)

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        close = candles.close
        n, p = len(close), int(self.period)
        shifted = np.full(n, np.nan)
        shifted[: n - p] = close[p:]  # BUG: close.shift(-p); the honest line is shifted[p:] = close[: n - p]
        momentum = shifted / close - 1.0
        long = momentum > 0  # NaN compares False: flat where the shifted close is missing
        long[: self.warmup] = False
        entry = long & ~np.concatenate([[False], long[:-1]])
        leave = ~long & np.concatenate([[False], long[:-1]])
        no = np.zeros(n, dtype=np.bool_)
        return Signals(entry, leave, no, no.copy(), np.full(n, np.nan), np.ones(n), self.warmup)
