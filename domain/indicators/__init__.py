"""Technical indicators over numpy arrays, whole series and bar by bar.

All are causal: the value at bar t uses bars <= t only. Warm-up bars are NaN; every indicator documents its
warm-up (the index of its first valid value) and exposes it as the ``warmup`` attribute of its incremental
class, with ``convergence(tol)`` for the bar from which more history no longer changes the value (see
:mod:`domain.indicators.base`). Seeding follows TA-Lib (the oracle in the tests): an EMA starts from the
simple mean of its first ``period`` values, Wilder smoothing (ATR, RSI) from the mean of its first ``period``
inputs, ADX's running sums from the sum of the first ``period - 1``.

Each function has an incremental twin (``SMA``, ``EMA``, ``ATR``...) whose ``update(...)`` returns, bar by
bar, exactly (bit for bit) the value the function computes for that bar over the whole series fed from the
same first bar: the live engine keeps them on its rolling feed and agrees with the backtest.

Inputs are finite float arrays (a validated ``CandleSeries``'s columns); periods are integers >= 1.
"""

from __future__ import annotations

from domain.indicators.averages import EMA, SMA, WMA, Wilder, ema, sma, wilder, wma
from domain.indicators.base import ADXLines, Bands, MACDLines, StochasticLines
from domain.indicators.momentum import (
    CCI,
    MACD,
    ROC,
    RSI,
    Stochastic,
    cci,
    macd,
    roc,
    rsi,
    stochastic,
    typical_price,
)
from domain.indicators.trend import ADX, adx
from domain.indicators.volatility import (
    ATR,
    BollingerBands,
    DonchianChannels,
    KeltnerChannels,
    RealisedVolatility,
    TrueRange,
    atr,
    bollinger,
    donchian,
    keltner,
    realised_volatility,
    true_range,
)
from domain.indicators.volume import OBV, VWAP, obv, vwap

__all__ = [
    "ADX",
    "ATR",
    "CCI",
    "EMA",
    "MACD",
    "OBV",
    "ROC",
    "RSI",
    "SMA",
    "VWAP",
    "WMA",
    "ADXLines",
    "Bands",
    "BollingerBands",
    "DonchianChannels",
    "KeltnerChannels",
    "MACDLines",
    "RealisedVolatility",
    "Stochastic",
    "StochasticLines",
    "TrueRange",
    "Wilder",
    "adx",
    "atr",
    "bollinger",
    "cci",
    "donchian",
    "ema",
    "keltner",
    "macd",
    "obv",
    "realised_volatility",
    "roc",
    "rsi",
    "sma",
    "stochastic",
    "true_range",
    "typical_price",
    "vwap",
    "wilder",
    "wma",
]
