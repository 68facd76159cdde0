"""``atb strategies`` and the risk options of ``atb backtest``."""

from __future__ import annotations

import json

import pytest

from domain.risk import RiskLimits
from domain.strategies.registry import strategy_class, strategy_names
from tests.e2e.test_cli import run_main


def test_strategies_list_names_every_registered_strategy_with_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "strategies", "list", "--json")
    assert result.code == 0, result.err
    listed = {e["name"]: e["version"] for e in json.loads(result.out)}
    assert listed == {n: strategy_class(n).version for n in strategy_names()}
    assert {"ema_trend", "ema_cross", "ensemble_weighted", "momentum_leverage"} <= set(listed)


def test_strategies_show_gives_parameters_defaults_and_merged_risk(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATB_RISK_LIMITS", "max_drawdown=0.4;daily_loss_limit=0.03")
    result = run_main(capsys, "strategies", "show", "momentum_leverage", "--param", "leverage=3", "--json")
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    params = {row["name"]: row for row in shown["parameters"]}
    assert params["leverage"]["default"] == 2.0 and params["leverage"]["value"] == 3.0
    risk = shown["risk"]
    defaults = RiskLimits()
    # defaults < settings (ATB_RISK_LIMITS) < the strategy's own overrides
    assert risk["max_drawdown"] == 0.4 and risk["daily_loss_limit"] == 0.03
    assert risk["max_gross_exposure"] == 3.0  # the strategy asks for room for its leverage
    assert risk["correlation_window"] == defaults.correlation_window


def test_strategies_show_refuses_an_unknown_strategy_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "strategies", "show", "moonshot")
    assert result.code != 0 and result.err.count("\n") == 1 and "ema_trend" in result.err


def test_momentum_leverage_runs_and_reports_risk_denials_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "momentum_leverage", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["config"]["leverage"] == 2.0  # the strategy's own account leverage by default
    assert report["risk"]["limits"]["max_gross_exposure"] == 2.0
    actions = {d["action"] for d in report["denials"]}
    assert actions <= {"denied", "reduced"} and report["denials"]
    rules = {d["reason"].split(":", 1)[0] for d in report["denials"]}
    assert rules & {"max_risk_per_trade", "drawdown_steps", "max_drawdown", "regime_caps", "daily_loss_limit"}
    text = run_main(capsys, "backtest", "--strategy", "momentum_leverage")
    assert "risk rules" in text.out or "denied" in text.out


def test_no_risk_gives_the_strategy_its_raw_size(capsys: pytest.CaptureFixture[str]) -> None:
    raw = run_main(capsys, "backtest", "--strategy", "ema_trend", "--start", "2020-01-01", "--no-risk", "--json").json()
    managed = run_main(capsys, "backtest", "--strategy", "ema_trend", "--start", "2020-01-01", "--json").json()
    assert raw["risk"]["limits"] == {} and raw["denials"] == []
    assert managed["risk"]["limits"]["max_position"] == RiskLimits().max_position
    # With the default 50% position cap, the managed run commits at most half the equity per entry.
    first_raw, first_managed = raw["trades"][0], managed["trades"][0]
    assert first_raw["entry_time"] == first_managed["entry_time"]
    assert first_managed["quantity"] < first_raw["quantity"] * 0.55


def test_a_bad_risk_override_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--risk", "max_drawdown=lots")
    assert result.code != 0 and result.err.count("\n") == 1 and "max_drawdown" in result.err
