"""Metrics of a trade ledger (closed round trips, in ledger order).

A win is a trade with a positive net PnL, a loss one with a negative net PnL; a break-even trade is
neither, counts in ``trades`` and in the win rate's denominator, and breaks winning and losing streaks.
Averages over an empty set are NaN; counts over an empty ledger are 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from domain.model.candles import BoolArray, FloatArray
from domain.model.trades import Trade

HOUR_MS = 3_600_000
NAN = math.nan


def longest_run(mask: BoolArray) -> int:
    """Length of the longest run of consecutive True values."""
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return int(np.max(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)))


def _mean(x: FloatArray) -> float:
    return float(np.mean(x)) if x.size else NAN


def _finite_mean(x: FloatArray) -> float:
    return _mean(x[np.isfinite(x)])


_LEDGER_FIELDS = attrgetter("pnl", "entry_price", "quantity", "entry_time", "exit_time", "mfe", "mae")


def trade_metrics(trades: Sequence[Trade]) -> dict[str, float]:
    """Ledger figures by metric key (see :data:`domain.metrics.METRICS` for the list and units).

    ``payoff_ratio`` is +inf with wins and no losses (as ``profit_factor``), NaN without wins;
    ``kelly_fraction`` = win_rate - (1 - win_rate) / payoff_ratio, so 1 when every trade wins and NaN
    without wins; ``avg_mfe``/``avg_mae`` average the trades that carry a finite excursion.
    """
    n = len(trades)
    # One C-level pass over the ledger for every field the figures read.
    table = np.array(list(map(_LEDGER_FIELDS, trades)), dtype=np.float64).reshape(n, 7)
    pnl = np.ascontiguousarray(table[:, 0])
    win = pnl > 0
    loss = pnl < 0
    wins = pnl[win]
    losses = pnl[loss]
    gross_loss = float(-losses.sum())
    if gross_loss > 0:
        profit_factor = float(wins.sum()) / gross_loss
    else:
        profit_factor = math.inf if wins.size else NAN
    avg_win = _mean(wins)
    avg_loss = _mean(losses)
    if not wins.size:
        payoff = NAN
    elif not losses.size:
        payoff = math.inf
    else:
        payoff = avg_win / abs(avg_loss)
    win_rate = wins.size / n if n else NAN
    kelly = win_rate - (1.0 - win_rate) / payoff if n and wins.size else NAN
    notional = table[:, 1] * table[:, 2]  # entry price x quantity: Trade.return_pct, vectorised
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(notional != 0, pnl / notional, 0.0)
    durations = table[:, 4] - table[:, 3]  # exit - entry time, ms (exact in float64)
    return {
        "trades": float(n),
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "expectancy": _mean(pnl),
        "avg_trade_return": _mean(returns),
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "payoff_ratio": payoff,
        "largest_win": float(wins.max()) if wins.size else NAN,
        "largest_loss": float(losses.min()) if losses.size else NAN,
        "max_consecutive_wins": float(longest_run(win)),
        "max_consecutive_losses": float(longest_run(loss)),
        "kelly_fraction": kelly,
        "avg_trade_duration": _mean(durations) / HOUR_MS,
        "avg_mfe": _finite_mean(table[:, 5]),
        "avg_mae": _finite_mean(table[:, 6]),
    }
