"""Numbers are finite and inside a documented range, checked at the edge (issue #13, point 6; ADR 0016):
every numeric option, setting and parameter; non-finite values never reach a run."""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator

import click
import pytest

from entrypoints.cli.common import Finite
from entrypoints.cli.main import LAZY_COMMANDS, backtest, backtest_compare, cli
from tests.e2e.test_cli import assert_one_error_line, run_main
from tests.e2e.test_cli_flags import no_backtest, rejected  # noqa: F401  (a fixture)

NON_FINITE = ("nan", "inf", "-inf", "1e400", "NaN", "+Infinity")


def _numeric_options(command: click.Command) -> dict[str, click.Option]:
    """The options of ``command`` that take a number: a Finite type, or the exchange rules' decimal callback."""
    found = {}
    for param in command.params:
        numeric = isinstance(param.type, Finite) or param.name in ("tick_size", "step_size", "min_notional")
        if isinstance(param, click.Option) and not param.is_flag and numeric:
            found[param.opts[0]] = param
    return found


BACKTEST_NUMERIC = _numeric_options(backtest)


def _all_commands() -> Iterator[tuple[str, click.Command]]:
    stack: list[tuple[str, click.Command]] = [("atb", cli)]
    for name, (module, attribute, _) in LAZY_COMMANDS.items():
        stack.append((f"atb {name}", getattr(importlib.import_module(module), attribute)))
    while stack:
        path, command = stack.pop()
        yield path, command
        if isinstance(command, click.Group):
            stack.extend((f"{path} {n}", c) for n, c in command.commands.items())


def test_the_sweep_covers_every_numeric_option_of_backtest() -> None:
    expected = {"--balance", "--fee-bps", "--slippage-bps", "--volatility-slippage", "--leverage", "--max-entries",
                "--tick-size", "--step-size", "--min-notional"}  # fmt: skip
    assert set(BACKTEST_NUMERIC) == expected
    assert set(_numeric_options(backtest_compare)) == expected


def test_no_command_takes_an_unchecked_float() -> None:
    """The rule, not the examples: a float option is a Finite one, an integer option has a range, on every
    command (present and future)."""
    loose = []
    for path, command in _all_commands():
        for param in command.params:
            kind = param.type
            if kind is click.FLOAT or isinstance(kind, click.FloatRange):
                loose.append(f"{path} {param.opts[0] if param.opts else param.name}")
            if isinstance(param, click.Option) and kind is click.INT:  # no range at all: use Finite(integer=True)
                loose.append(f"{path} {param.opts[0]}")
    assert loose == []


@pytest.mark.parametrize("value", [*NON_FINITE, "-1"])
@pytest.mark.parametrize("option", sorted(BACKTEST_NUMERIC))
def test_every_numeric_backtest_option_refuses_non_finite_and_negative_values(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], option: str, value: str  # noqa: F811
) -> None:
    line = rejected(capsys, "backtest", f"{option}={value}", code=2)
    assert option in line
    line = rejected(capsys, "backtest", "compare", "ema_trend", "ema_cross", f"{option}={value}", code=2)
    assert option in line


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--balance", "1e30", "at most 1e+15"),
        ("--balance", "1e25", "at most 1e+15"),
        ("--balance", "0", "positive"),
        ("--leverage", "126", "at most 125"),
        ("--fee-bps", "1001", "[0, 1000]"),
        ("--volatility-slippage", "11", "[0, 10]"),
        ("--max-entries", "101", "[1, 100]"),
        ("--max-entries", "1.5", "whole number"),
        ("--max-entries", "99999999999999999999999999", "[1, 100]"),
        ("--tick-size", "1e16", "1e+15"),
        ("--step-size", "1e-19", "1e-18"),
        ("--balance", "ten", "not a number"),
    ],
)
def test_numbers_outside_their_documented_range_are_one_line(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], option: str, value: str, says: str  # noqa: F811
) -> None:
    line = rejected(capsys, "backtest", option, value, code=2)
    assert option in line and says in line


def test_the_largest_balance_runs(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--balance", "1e15", "--start", "2021-05-01", "--json")
    assert result.code == 0, result.err
    assert result.json()["config"]["initial_balance"] == 1e15


@pytest.mark.parametrize(
    ("flag", "item", "names"),
    [
        ("--param", "fast={}", "fast"),
        ("--param", "atr_stop={}", "atr_stop"),
        ("--risk", "max_drawdown={}", "max_drawdown"),
        ("--risk", "max_position={}", "max_position"),
        ("--risk", "drawdown_steps=0.05:{}", "drawdown_steps"),
        ("--risk", "regime_caps=down/high:{}", "regime_caps"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "1e400", "-inf"])
def test_parameter_and_risk_values_must_be_finite(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], flag: str, item: str, names: str, value: str  # noqa: F811
) -> None:
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", flag, item.format(value), code=1)
    assert names in line


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_sizer_parameters_must_be_finite(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], value: str  # noqa: F811
) -> None:
    line = rejected(capsys, "backtest", "--sizer", "fixed_fraction", "--sizer-param", f"size={value}", code=1)
    assert "size" in line and "finite" in line


def test_inf_written_as_such_still_means_no_cap(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--risk", "max_position=inf", "--start", "2021-05-01", "--json")
    assert result.code == 0, result.err
    limits = result.json()["risk"]["limits"]
    assert limits["max_position"] in ("inf", "Infinity", None) or math.isinf(float(limits["max_position"]))


@pytest.mark.parametrize("weight", ["nan", "inf", "-inf", "1e400", "1001"])
def test_ensemble_weights_must_be_finite_and_bounded(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], weight: str  # noqa: F811
) -> None:
    members = f"members=ema_crossover:{weight},momentum:1"
    line = rejected(capsys, "backtest", "--strategy", "ensemble_weighted", "--param", members, code=1)
    assert "weight of ema_crossover" in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ATB_INITIAL_BALANCE", "1e400"),
        ("ATB_INITIAL_BALANCE", "nan"),
        ("ATB_INITIAL_BALANCE", "1e16"),
        ("INITIAL_BALANCE", "inf"),
        ("ATB_FEE_BPS", "nan"),
        ("ATB_SLIPPAGE_BPS", "inf"),
        ("ATB_PROMOTION_MARGIN", "nan"),
        ("ATB_PROMOTION_MARGIN", "inf"),
    ],
)
def test_numeric_settings_must_be_finite_and_in_range(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_backtest: list[int], name: str, value: str  # noqa: F811
) -> None:
    monkeypatch.setenv(name, value)
    line = rejected(capsys, "backtest", code=1)
    field = name.removeprefix("ATB_").lower()
    assert f"invalid setting {field}" in line
    assert "unexpected" not in line


@pytest.mark.parametrize("limits", ["max_drawdown=nan", "max_risk_per_trade=inf", "max_position=1e400"])
def test_risk_limits_from_the_settings_must_be_finite(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_backtest: list[int], limits: str  # noqa: F811
) -> None:
    monkeypatch.setenv("ATB_RISK_LIMITS", limits)
    line = rejected(capsys, "backtest", code=1)
    assert limits.partition("=")[0] in line and "finite" in line


@pytest.mark.parametrize(
    ("option", "value"),
    [("--epochs", "inf"), ("--learning-rate", "nan"), ("--learning-rate", "1e400"), ("--val-fraction", "nan"),
     ("--seed", "-1"), ("--seed", "1e400"), ("--threads", "inf"), ("--window", "1e400")],
)  # fmt: skip
def test_train_numbers_are_checked_before_any_work(capsys: pytest.CaptureFixture[str], option: str, value: str) -> None:
    line = assert_one_error_line(run_main(capsys, "train", option, value), 2)
    assert option in line


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_model_predicting_non_finite_values_stops_the_run_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: float
) -> None:
    import numpy as np

    from adapters.onnx import predictor

    def broken(self: object, windows: np.ndarray) -> np.ndarray:
        return np.full(windows.shape[0], value)

    monkeypatch.setattr(predictor.OnnxPredictor, "predict", broken)
    result = run_main(capsys, "backtest", "--strategy", "ml_basic", "--start", "2021-05-01", "--end", "2021-06-01")
    line = assert_one_error_line(result, 1)
    assert "BTCUSDT/basic/" in line and "not finite" in line
    assert result.out == ""
