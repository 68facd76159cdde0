"""Risk limits: defaults, validation, merge precedence, unknown keys, regime-cap matching, display."""

from __future__ import annotations

import math

import pytest

from domain.model.errors import InvalidParameter
from domain.regime.types import Regime
from domain.risk import LIMIT_NAMES, RiskLimits, merge, merge_layers


def test_defaults_are_the_documented_ones() -> None:
    limits = RiskLimits()
    assert limits.max_risk_per_trade == 0.02
    assert limits.max_position == 0.5
    assert limits.max_gross_exposure == 1.0
    assert limits.daily_loss_limit == 0.05
    assert limits.max_drawdown == 0.25
    assert limits.max_drawdown_cooldown == 30.0
    assert limits.correlation_threshold == 0.8
    assert limits.correlation_window == 720
    assert limits.drawdown_steps == ((0.05, 0.8), (0.10, 0.6), (0.15, 0.4))
    assert dict(limits.regime_caps) == {"down/high": 0.3, "down/*": 0.5, "*/high": 0.7}
    for name in LIMIT_NAMES:  # every field is documented in the one docstring
        assert f"``{name}``" in (RiskLimits.__doc__ or "")


def test_merge_precedence_defaults_settings_strategy_cli() -> None:
    settings = {"max_position": "0.4", "daily_loss_limit": 0.04, "max_drawdown": 0.3}
    strategy = {"max_position": 0.3, "drawdown_steps": "0.1:0.5"}
    cli = {"max_position": "0.2"}
    limits = merge_layers(settings, strategy, cli)
    assert limits.max_position == 0.2  # the CLI wins
    assert limits.daily_loss_limit == 0.04  # settings, not overridden later
    assert limits.max_drawdown == 0.3
    assert limits.drawdown_steps == ((0.1, 0.5),)  # the strategy's replaces the default whole
    assert limits.max_gross_exposure == 1.0  # the default
    assert merge_layers(None, strategy, None) == merge(RiskLimits(), strategy)
    assert merge(limits, {}) is limits


def test_merge_refuses_unknown_keys_listing_the_valid_ones() -> None:
    with pytest.raises(InvalidParameter, match=r"unknown risk setting max_leverage; valid: max_risk_per_trade, "):
        merge(RiskLimits(), {"max_leverage": 3})


def test_merge_parses_text_forms() -> None:
    limits = merge(
        RiskLimits(),
        {
            "correlation_window": "240",
            "drawdown_steps": "0.2:0.5, 0.1:0.75",
            "regime_caps": "down/high:0.2, */high:0.6",
            "max_gross_exposure": "inf",
        },
    )
    assert limits.correlation_window == 240
    assert limits.drawdown_steps == ((0.1, 0.75), (0.2, 0.5))
    assert limits.regime_caps == (("down/high", 0.2), ("*/high", 0.6))
    assert limits.max_gross_exposure == math.inf
    assert merge(RiskLimits(), {"regime_caps": {"sideways/*": 0.5}}).regime_caps == (("sideways/*", 0.5),)
    assert merge(RiskLimits(), {"drawdown_steps": "none"}).drawdown_steps == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_risk_per_trade": "1.5"}, "max_risk_per_trade must be in"),
        ({"max_position": 0}, "max_position must be > 0"),
        ({"daily_loss_limit": -0.1}, "daily_loss_limit must be in"),
        ({"max_drawdown": "nan"}, "max_drawdown: 'nan' is not a finite number"),
        ({"correlation_window": 1}, "at least 2 bars"),
        ({"correlation_window": "7.5"}, "whole number"),
        ({"drawdown_steps": "0.1:0.5,0.05:0.4"}, "multipliers must be in"),  # sorted: 0.05 x0.4 then x0.5
        ({"drawdown_steps": "0.1:1.2"}, "multipliers must be in"),
        ({"drawdown_steps": "0.1"}, "key:value pairs"),
        ({"regime_caps": "crash/high:0.1"}, "is not trend/volatility"),
        ({"regime_caps": "down/high:-1"}, "must be >= 0"),
        ({"max_position": "half"}, "is not a number"),
        ({"max_drawdown_cooldown": "-1"}, "max_drawdown_cooldown must be a number of days >= 0"),
        ({"max_drawdown_cooldown": "inf"}, "max_drawdown_cooldown: 'inf' is not a finite number"),
        ({"max_drawdown_cooldown": "nan"}, "max_drawdown_cooldown: 'nan' is not a finite number"),
    ],
)
def test_merge_validates(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        merge(RiskLimits(), overrides)


def test_regime_cap_takes_the_smallest_matching_pattern() -> None:
    limits = RiskLimits()
    assert limits.regime_cap(Regime.parse("down/high")) == (0.3, "down/high")
    assert limits.regime_cap(Regime.parse("down/low")) == (0.5, "down/*")
    assert limits.regime_cap(Regime.parse("sideways/high")) == (0.7, "*/high")
    assert limits.regime_cap(Regime.parse("up/low")) == (math.inf, "")
    assert limits.regime_cap(None) == (math.inf, "")


def test_drawdown_multiplier_steps() -> None:
    limits = RiskLimits()
    assert limits.drawdown_multiplier(0.0) == (1.0, 0.0)
    assert limits.drawdown_multiplier(0.049) == (1.0, 0.0)
    assert limits.drawdown_multiplier(0.05) == (0.8, 0.05)
    assert limits.drawdown_multiplier(0.112) == (0.6, 0.10)
    assert limits.drawdown_multiplier(0.2) == (0.4, 0.15)


def test_describe_is_plain_and_complete() -> None:
    described = RiskLimits().describe()
    assert list(described) == list(LIMIT_NAMES)
    assert described["drawdown_steps"] == [[0.05, 0.8], [0.10, 0.6], [0.15, 0.4]]
    assert described["regime_caps"] == {"down/high": 0.3, "down/*": 0.5, "*/high": 0.7}
    assert described["max_position"] == 0.5


def test_unlimited_turns_every_rule_off() -> None:
    limits = RiskLimits.unlimited()
    assert limits.max_position == math.inf
    assert limits.drawdown_steps == ()
    assert limits.regime_caps == ()
