"""The strategies atb knows, by name, and how to build one from user parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from domain.model.errors import InvalidParameter
from domain.strategies import DEFAULT_STRATEGY  # noqa: F401  (re-exported: the registry names it too)
from domain.strategies.base import Strategy, build_params
from domain.strategies.ema_cross import EmaCross
from domain.strategies.ema_trend import EmaTrend
from domain.strategies.ensemble_weighted import EnsembleWeighted
from domain.strategies.ml_adaptive import MlAdaptive
from domain.strategies.ml_basic import MlBasic
from domain.strategies.ml_sentiment import MlSentiment
from domain.strategies.momentum_leverage import MomentumLeverage

_STRATEGIES: dict[str, type[Any]] = {
    cls.name: cls
    for cls in (EmaTrend, EmaCross, EnsembleWeighted, MomentumLeverage, MlBasic, MlAdaptive, MlSentiment)
}


def strategy_names() -> list[str]:
    return sorted(_STRATEGIES)


def strategy_class(name: str) -> type[Any]:
    try:
        return _STRATEGIES[name]
    except KeyError:
        raise InvalidParameter(f"unknown strategy {name!r}; available: {', '.join(strategy_names())}") from None


def params_class(name: str) -> type[Any]:
    """The parameter dataclass of strategy ``name``."""
    cls = strategy_class(name)
    return type(cls().params)


def create_strategy(name: str, overrides: Mapping[str, str | int | float | bool] | None = None) -> Strategy:
    """Build strategy ``name`` with its defaults overridden by ``overrides`` (validated)."""
    cls = strategy_class(name)
    params = build_params(params_class(name), overrides or {})
    strategy: Strategy = cls(params=params)
    return strategy


def describe_params(strategy: Strategy) -> dict[str, Any]:
    """The strategy's parameters as a plain dict (for reports and persistence)."""
    params = getattr(strategy, "params", None)
    if params is None or not dataclasses.is_dataclass(params) or isinstance(params, type):
        return {}
    return dataclasses.asdict(params)


def strategy_catalog() -> list[dict[str, str]]:
    """Name, version and description of every registered strategy."""
    return [
        {"name": n, "version": _STRATEGIES[n].version, "description": _STRATEGIES[n].description}
        for n in strategy_names()
    ]

