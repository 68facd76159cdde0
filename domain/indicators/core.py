"""The original home of the trend strategies' building blocks; they now live in the themed modules
(:mod:`averages`, :mod:`volatility`) and stay importable from here."""

from __future__ import annotations

from domain.indicators.averages import ema, sma, wilder
from domain.indicators.volatility import atr, true_range

__all__ = ["atr", "ema", "sma", "true_range", "wilder"]
