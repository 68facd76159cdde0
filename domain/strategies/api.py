"""Everything a strategy author needs, from one stable import path (docs/strategy-api.md)::

    from domain.strategies.api import Strategy, Param, Signals, Context, CandleSeries, ema, crossings

Names here keep their meaning within a major version of atb; modules behind them may move.
"""

from __future__ import annotations

from domain.indicators import (
    adx,
    atr,
    bollinger,
    cci,
    donchian,
    ema,
    keltner,
    macd,
    obv,
    realised_volatility,
    roc,
    rsi,
    sma,
    stochastic,
    true_range,
    vwap,
    wilder,
    wma,
)
from domain.model.candles import BoolArray, CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.regime.detector import DOWN, HIGH, LOW, SIDEWAYS, UP, RegimeSeries
from domain.strategies.base import ExitRules, Signals, crossings, no_signals
from domain.strategies.components import (
    GENERATORS,
    EmaCrossover,
    Momentum,
    SignalFrame,
    SignalGenerator,
    StopRule,
    compose,
    events,
    weighted_vote,
)
from domain.strategies.ml import (
    ML_MODEL_TYPES,
    PredictionSignal,
    hysteresis,
    require_predictions,
    smooth_predictions,
)
from domain.strategies.strategy import Context, Extras, Param, Strategy

__all__ = [
    "DOWN",
    "GENERATORS",
    "HIGH",
    "LOW",
    "ML_MODEL_TYPES",
    "SIDEWAYS",
    "UP",
    "BoolArray",
    "CandleSeries",
    "Context",
    "EmaCrossover",
    "ExitRules",
    "Extras",
    "FloatArray",
    "InvalidParameter",
    "Momentum",
    "Param",
    "PredictionSignal",
    "RegimeSeries",
    "SignalFrame",
    "SignalGenerator",
    "Signals",
    "StopRule",
    "Strategy",
    "adx",
    "atr",
    "bollinger",
    "cci",
    "compose",
    "crossings",
    "donchian",
    "ema",
    "events",
    "hysteresis",
    "keltner",
    "macd",
    "no_signals",
    "obv",
    "realised_volatility",
    "require_predictions",
    "roc",
    "rsi",
    "sma",
    "smooth_predictions",
    "stochastic",
    "true_range",
    "vwap",
    "weighted_vote",
    "wilder",
    "wma",
]
