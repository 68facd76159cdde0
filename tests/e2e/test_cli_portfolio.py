"""The backtest CLI beyond one symbol: portfolios, comparisons, exit options and bad ranges."""

from __future__ import annotations

import collections
import json

import pytest

from tests.e2e.test_cli import bundled, day_ms, iso, ms_of, run_main


def test_a_portfolio_of_two_symbols_trades_both_from_one_balance(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend",
        "--symbol", "BTCUSDT", "--symbol", "ETHUSDT", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["config"]["symbols"] == ["BTCUSDT", "ETHUSDT"]
    by_symbol = collections.Counter(t["symbol"] for t in report["trades"])
    assert by_symbol["BTCUSDT"] > 0 and by_symbol["ETHUSDT"] > 0
    assert set(report["data"]["symbols"]) == {"BTCUSDT", "ETHUSDT"}
    # Buy-and-hold of a portfolio: equal weights, from each symbol's first close.
    btc, eth = bundled("BTCUSDT"), bundled("ETHUSDT")
    expected = 0.5 * (btc.close[-1] / btc.close[0]) + 0.5 * (eth.close[-1] / eth.close[0]) - 1
    assert report["metrics"]["buy_and_hold_return"] == pytest.approx(expected, rel=1e-9)
    # Both symbols are held at the same time somewhere: one balance, two positions.
    spans = {s: [(ms_of(t["entry_time"]), ms_of(t["exit_time"])) for t in report["trades"] if t["symbol"] == s]
             for s in by_symbol}  # fmt: skip
    assert any(a0 < b1 and b0 < a1 for a0, a1 in spans["BTCUSDT"] for b0, b1 in spans["ETHUSDT"])


def test_compare_runs_two_strategies_on_the_same_data(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "compare", "ema_trend", "ema_cross", "--start", "2020-01-01", "--json")
    assert result.code == 0, result.err
    sides = json.loads(result.out)["sides"]
    assert [s["label"] for s in sides] == ["ema_trend", "ema_cross"]
    both = {s["label"]: s["report"] for s in sides}
    for key in ("start", "end", "bars"):
        assert both["ema_trend"]["data"][key] == both["ema_cross"]["data"][key]
    assert both["ema_trend"]["metrics"]["trades"] != both["ema_cross"]["metrics"]["trades"]
    text = run_main(capsys, "backtest", "compare", "ema_trend", "ema_cross", "--start", "2020-01-01")
    assert text.code == 0
    header = next(line for line in text.out.splitlines() if "Metric" in line)
    assert "ema_trend" in header and "ema_cross" in header


def test_exit_options_change_how_trades_end(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(
        capsys, "backtest", "--strategy", "ema_trend",
        "--start", "2019-01-01", "--param", "trailing_atr=3", "--param", "take_profit=0.1",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    reasons = collections.Counter(t["exit_reason"] for t in result.json()["trades"])
    assert reasons["trailing_stop"] > 0 and reasons["take_profit"] > 0


def test_the_gap_policy_refuse_names_the_largest_gap(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--gap-policy", "refuse")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "gap policy is refuse" in result.err and "largest" in result.err
    assert "Traceback" not in result.err


def test_a_start_after_the_data_is_one_line_naming_where_it_ends(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--start", "2030-01-01")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "2021-06-10" in result.err


def test_an_end_before_the_data_is_one_line_naming_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--end", "2010-01-01")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "2017-08-17" in result.err


def test_a_start_before_the_data_begins_where_the_data_does_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--start", "2015-01-01", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["data"]["start"] == iso(int(bundled("BTCUSDT").time[0]))
    assert any("starts at" in note for note in report["notes"])


def test_a_balance_below_the_exchange_minimum_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from adapters.files import BundledInstruments
    from domain.model.symbols import Symbol

    minimum = BundledInstruments().instrument(Symbol.parse("BTCUSDT")).instrument.min_notional  # 5 on Binance
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--balance", str(minimum / 2))
    assert result.code == 1
    assert result.err.count("\n") == 1 and "minimum order" in result.err


def test_the_intrabar_rule_and_slippage_reach_the_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(
        capsys, "backtest", "--strategy", "ema_trend",
        "--start", "2020-01-01", "--intrabar", "target_first", "--slippage-bps", "0",
        "--volatility-slippage", "0.5", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert report["config"]["intrabar"] == "target_first"
    assert report["metrics"]["total_slippage"] > 0  # only the volatility part can have caused it
    first = report["trades"][0]
    bars = bundled("BTCUSDT")
    open_price = bars.open[bars.index(ms_of(first["entry_time"]))]
    assert first["entry_price"] > open_price
    assert ms_of(first["entry_time"]) >= day_ms("2020-01-01")
