"""A leaky strategy, on purpose: a centred rolling mean (docs/strategy-checks.md).

The mean at bar t averages the bars from t - k to t + k: half of its window is in the future, the way
``pandas.Series.rolling(window, center=True).mean()`` is. It looks like a smooth, lag-free trend line, and a
backtest of it looks wonderful. ``atb strategies check`` catches it: replacing the bars after a cut changes
the decisions of the k bars before it, and the last k bars of any prefix have no mean at all.
"""

from __future__ import annotations

import numpy as np

from domain.strategies.api import CandleSeries, Context, Param, Signals, Strategy, crossings


class LeakyCentred(Strategy):
    """Long while the close is above its centred mean (look-ahead: the mean reads k bars ahead)."""

    name = "leaky_centred"
    version = "0.1.0"
    description = "close above its centred rolling mean (a look-ahead example)"

    window = Param(25, low=3, high=1001, help="bars in the centred mean (odd: k = window // 2 on each side)")

    @property
    def warmup(self) -> int:
        return int(self.window)

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        close = candles.close
        n, k = len(close), int(self.window) // 2
        sums = np.concatenate([[0.0], np.cumsum(close)])
        mean = np.full(n, np.nan)
        mean[k : n - k] = (sums[2 * k + 1 :] - sums[: n - 2 * k]) / (2 * k + 1)  # bars t - k .. t + k
        up, down = crossings(close, mean, self.warmup)
        no = np.zeros(n, dtype=np.bool_)
        return Signals(up, down, no, no.copy(), np.full(n, np.nan), np.ones(n), self.warmup)
