"""Technical indicators over numpy arrays. All are causal: the value at bar t uses bars <= t only.

Warm-up bars are NaN. Seeding follows TA-Lib (the oracle in tests): an EMA starts from the simple mean of
its first ``period`` values, Wilder smoothing (ATR) from the mean of its first ``period`` true ranges.
"""

from __future__ import annotations

from domain.indicators.core import atr, ema, sma, true_range, wilder

__all__ = ["atr", "ema", "sma", "true_range", "wilder"]
