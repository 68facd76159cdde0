"""The ``atb`` command line, in-process (``main(argv)``) and as a real subprocess of the installed script.

Expectations come from the bundled files read here with gzip/csv, or from files the tests write.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import adapters.files
from entrypoints.cli.main import main
from tests.isolation import is_setting

ATB = Path(sys.executable).with_name("atb")
BUNDLED_DIR = Path(adapters.files.__file__).parent / "bundled"
HOUR_MS = 3_600_000
METRIC_KEYS = {
    "total_return",
    "cagr",
    "max_drawdown",
    "sharpe",
    "sortino",
    "trades",
    "win_rate",
    "profit_factor",
    "total_fees",
    "buy_and_hold_return",
}


# ---------------------------------------------------------------------------------------------------------------
# Helpers


@dataclass(frozen=True)
class Bars:
    time: np.ndarray  # int64 UTC ms
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    lines: tuple[str, ...]  # the raw data lines (no header)

    def index(self, ms: int) -> int:
        i = int(np.searchsorted(self.time, ms))
        assert i < len(self.time) and self.time[i] == ms, f"{iso(ms)} is not a bar open time in the data"
        return i

    def within(self, start_ms: int | None, end_ms: int | None) -> np.ndarray:
        mask = np.ones(len(self.time), dtype=bool)
        if start_ms is not None:
            mask &= self.time >= start_ms
        if end_ms is not None:
            mask &= self.time < end_ms
        return np.flatnonzero(mask)


@lru_cache(maxsize=2)
def bundled(symbol: str) -> Bars:
    with gzip.open(BUNDLED_DIR / f"{symbol}-1h.csv.gz", "rt", newline="") as f:
        text_lines = f.read().splitlines()
    rows = list(csv.reader(text_lines[1:]))
    cols = np.array([[float(x) for x in r[1:5]] for r in rows])
    times = np.array([int(r[0]) for r in rows], dtype=np.int64)
    return Bars(times, cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3], tuple(text_lines[1:]))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ms_of(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)


def day_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        data = json.loads(self.out)
        assert isinstance(data, dict)
        return data


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """``atb ARGS`` in-process through the console entry point (errors mapped to exit codes)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not is_setting(k) and k != "COLUMNS"}


def run_atb(cwd: Path, *args: str) -> Result:
    """The installed ``atb`` script as a subprocess, in ``cwd`` (an empty folder: no .env)."""
    proc = subprocess.run(
        [str(ATB), *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=60, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_error_line(result: Result, code: int | None = None) -> str:
    if code is None:
        assert result.code != 0
    else:
        assert result.code == code
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def write_atb_csv(path: Path, bars: Bars, n: int) -> Path:
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "".join(f"{line}\n" for line in bars.lines[:n]))
    return path


def write_binance_csv(path: Path, bars: Bars, n: int) -> Path:
    out = []
    for line in bars.lines[:n]:
        t, o, h, lo, c, v = line.split(",")
        close_t = int(t) + HOUR_MS - 1
        out.append(f"{t},{o},{h},{lo},{c},{v},{close_t},{float(v) * float(c)},100,{float(v) / 2},0,0\n")
    path.write_text("".join(out))
    return path


# ---------------------------------------------------------------------------------------------------------------
# A full backtest as a subprocess, checked against the bundled file


@pytest.fixture(scope="module")
def btc_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run_atb(tmp_path_factory.mktemp("run"), "backtest", "--strategy", "ema_trend",
        "--symbol", "BTCUSDT", "--json")
    assert result.code == 0, result.err
    return result.json()


def test_json_has_the_metrics(btc_json: dict[str, Any]) -> None:
    metrics = btc_json["metrics"]
    assert set(metrics) >= METRIC_KEYS
    assert btc_json["config"]["symbols"] == ["BTCUSDT"]
    assert btc_json["config"]["timeframe"] == "1h"
    assert btc_json["metrics"]["max_drawdown"] <= 0
    assert 0 <= metrics["win_rate"] <= 1


def test_json_covers_the_whole_file(btc_json: dict[str, Any]) -> None:
    bars = bundled("BTCUSDT")
    assert btc_json["data"]["bars"] == len(bars.time)
    assert btc_json["data"]["start"] == iso(int(bars.time[0]))
    assert btc_json["data"]["end"] == iso(int(bars.time[-1]) + HOUR_MS)


def test_json_buy_and_hold_matches_the_file(btc_json: dict[str, Any]) -> None:
    close = bundled("BTCUSDT").close
    assert btc_json["metrics"]["buy_and_hold_return"] == pytest.approx(close[-1] / close[0] - 1, rel=1e-12)


def test_json_trades_agree_with_the_metrics(btc_json: dict[str, Any]) -> None:
    metrics, trades = btc_json["metrics"], btc_json["trades"]
    assert len(trades) == metrics["trades"] > 0
    pnls = [t["pnl"] for t in trades]
    wins = [p for p in pnls if p > 0]
    losses = [-p for p in pnls if p < 0]
    assert metrics["win_rate"] == pytest.approx(len(wins) / len(pnls))
    assert metrics["profit_factor"] == pytest.approx(sum(wins) / sum(losses))
    trade_fees = sum(t["fees"] for t in trades)
    if btc_json["open_positions"] == {}:
        assert metrics["total_fees"] == pytest.approx(trade_fees)
    else:
        assert metrics["total_fees"] >= trade_fees - 1e-6
    initial = btc_json["config"]["initial_balance"]
    if btc_json["open_positions"] == {}:  # flat at the end: equity is the starting cash plus every trade's PnL
        assert metrics["total_return"] == pytest.approx((initial + sum(pnls)) / initial - 1, rel=1e-9)


def test_json_trades_happen_on_bars_of_the_data(btc_json: dict[str, Any]) -> None:
    bars = bundled("BTCUSDT")
    first_bar = int(bars.time[0])
    previous_exit = first_bar
    for t in btc_json["trades"]:
        entry, exit_ = ms_of(t["entry_time"]), ms_of(t["exit_time"])
        i, j = bars.index(entry), bars.index(exit_)
        # A decision is taken at a bar's close and filled at a later bar's open: never on the first bar.
        assert entry > first_bar
        assert entry >= previous_exit  # one position at a time
        slip = btc_json["config"]["slippage_bps"] / 10_000  # default 5 bps, against us on both sides
        assert t["entry_price"] == pytest.approx(bars.open[i] * (1 + slip), rel=1e-12)
        if t["exit_reason"] == "stop_loss":
            assert exit_ >= entry
            assert bars.low[j] * (1 - slip) - 1e-9 <= t["exit_price"] <= bars.high[j]
        else:
            assert exit_ > entry
            assert t["exit_price"] == pytest.approx(bars.open[j] * (1 - slip), rel=1e-12)
        previous_exit = exit_
    assert any(ms_of(t["exit_time"]) > ms_of(t["entry_time"]) for t in btc_json["trades"])


# ---------------------------------------------------------------------------------------------------------------
# Range and parameters


def test_start_end_and_params(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(
        capsys,
        "backtest", "--strategy", "ema_trend", "--symbol", "BTCUSDT", "--start", "2019-01-01", "--end", "2021-01-01",
        "--param", "fast=20", "--param", "slow=100", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    bars = bundled("BTCUSDT")
    idx = bars.within(day_ms("2019-01-01"), day_ms("2021-01-01"))
    assert report["data"]["start"] == iso(int(bars.time[idx[0]]))
    assert report["data"]["end"] == iso(int(bars.time[idx[-1]]) + HOUR_MS)
    assert report["data"]["start"].startswith("2019-01-01")
    assert report["data"]["end"] == "2021-01-01T00:00:00Z"
    assert report["data"]["bars"] == len(idx)
    assert report["strategy"]["params"]["fast"] == 20
    assert report["strategy"]["params"]["slow"] == 100
    close = bars.close[idx]
    assert report["metrics"]["buy_and_hold_return"] == pytest.approx(close[-1] / close[0] - 1, rel=1e-12)
    start, end = day_ms("2019-01-01"), day_ms("2021-01-01")
    for t in report["trades"]:
        assert start < ms_of(t["entry_time"]) < end
        assert ms_of(t["exit_time"]) < end


def test_default_params_differ_from_given_ones(capsys: pytest.CaptureFixture[str]) -> None:
    base = run_main(capsys, "backtest", "--strategy", "ema_trend",
        "--start", "2020-01-01", "--end", "2020-07-01", "--json").json()
    tuned = run_main(
        capsys, "backtest", "--strategy", "ema_trend",
        "--start", "2020-01-01", "--end", "2020-07-01", "--param", "fast=20", "--json"
    ).json()
    assert tuned["strategy"]["params"]["fast"] == 20
    assert base["strategy"]["params"]["fast"] != 20
    assert {k: v for k, v in tuned["strategy"]["params"].items() if k != "fast"} == {
        k: v for k, v in base["strategy"]["params"].items() if k != "fast"
    }


@pytest.mark.parametrize(
    ("param", "fragments"),
    [
        ("nope=1", ("nope", "fast", "slow")),  # the valid parameters are named
        ("fast=abc", ("fast", "abc")),
        ("fast=300", ("fast", "slow")),  # fast must stay below slow (200 by default)
        ("fast", ("fast",)),  # not NAME=VALUE
    ],
)
def test_bad_params(capsys: pytest.CaptureFixture[str], param: str, fragments: tuple[str, ...]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--param", param)
    line = assert_one_error_line(result)
    for fragment in fragments:
        assert fragment in line
    assert result.out == ""


def test_bad_param_as_subprocess(tmp_path: Path) -> None:
    result = run_atb(tmp_path, "backtest", "--strategy", "ema_trend", "--param", "nope=1")
    line = assert_one_error_line(result)
    assert "nope" in line
    assert "fast" in line


# ---------------------------------------------------------------------------------------------------------------
# Errors: one line on stderr, the right exit code, a traceback only with --debug


def test_unknown_symbol_as_subprocess(tmp_path: Path) -> None:
    result = run_atb(tmp_path, "backtest", "--strategy", "ema_trend", "--symbol", "NOPEUSDT")
    line = assert_one_error_line(result)
    assert "NOPEUSDT" in line
    assert "BTCUSDT" in line
    assert "ETHUSDT" in line
    assert result.out == ""


def test_bad_date_as_subprocess(tmp_path: Path) -> None:
    result = run_atb(tmp_path, "backtest", "--strategy", "ema_trend", "--start", "2019-13-45")
    line = assert_one_error_line(result, 2)
    assert "2019-13-45" in line
    assert "--start" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_atb(tmp_path, "--debug", "backtest", "--strategy", "ema_trend", "--symbol", "NOPEUSDT")
    assert result.code != 0
    assert "Traceback" in result.err
    assert "NOPEUSDT" in result.err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("backtest", "--strategy", "ema_trend", "--end", "2020-02-30"), "2020-02-30"),
        (("backtest", "--strategy", "moonshot"), "moonshot"),
        (("backtest", "--strategy", "ema_trend", "--frobnicate"), "--frobnicate"),
        (("frobnicate",), "frobnicate"),
        (("backtest", "--strategy", "ema_trend", "--fee-bps", "cheap"), "cheap"),
        (("backtest", "--strategy", "ema_trend", "--balance", "0"), "--balance"),  # a range: ADR 0016
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], fragment: str) -> None:
    line = assert_one_error_line(run_main(capsys, *args), 2)
    assert fragment in line


@pytest.mark.parametrize(
    "args",
    [
        ("backtest", "--strategy", "ema_trend", "--start", "2030-01-01"),
        ("backtest", "--strategy", "ema_trend", "--end", "2010-01-01"),
        ("backtest", "--strategy", "ema_trend", "--start", "2020-01-01", "--end", "2019-01-01"),
        ("backtest", "--strategy", "ema_trend", "--symbol", "ETHUSDT", "--timeframe", "4h"),
    ],
)
def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    assert_one_error_line(run_main(capsys, *args), 1)


def test_range_outside_the_data_names_the_covered_range(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend", "--end", "2010-01-01"))
    assert datetime.fromtimestamp(int(bundled("BTCUSDT").time[0]) / 1000, UTC).strftime("%Y-%m-%d") in line


# ---------------------------------------------------------------------------------------------------------------
# Your own file: --data


def test_data_file_atb_and_binance_formats_give_the_same_backtest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bars = bundled("BTCUSDT")
    n = 900
    atb_file = write_atb_csv(tmp_path / "BTCUSDT-1h.csv", bars, n)
    binance_file = write_binance_csv(tmp_path / "BTCUSDT-1h-2017-08.csv", bars, n)
    reports = []
    for path in (atb_file, binance_file):
        result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(path), "--json")
        assert result.code == 0, result.err
        reports.append(result.json())
    for report in reports:
        assert report["config"]["symbols"] == ["BTCUSDT"]
        assert report["config"]["timeframe"] == "1h"
        assert report["data"]["bars"] == n
        assert report["data"]["start"] == iso(int(bars.time[0]))
        assert report["data"]["end"] == iso(int(bars.time[n - 1]) + HOUR_MS)
        close = bars.close[:n]
        assert report["metrics"]["buy_and_hold_return"] == pytest.approx(close[-1] / close[0] - 1, rel=1e-12)
    assert reports[0]["metrics"] == reports[1]["metrics"]
    assert reports[0]["trades"] == reports[1]["trades"]


def test_data_file_gzip_as_subprocess(tmp_path: Path) -> None:
    bars = bundled("ETHUSDT")
    path = tmp_path / "ETHUSDT-1h.csv.gz"
    path.write_bytes(gzip.compress(write_atb_csv(tmp_path / "plain.csv", bars, 500).read_bytes()))
    result = run_atb(tmp_path, "backtest", "--strategy", "ema_trend", "--data", str(path), "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["config"]["symbols"] == ["ETHUSDT"]
    assert report["data"]["bars"] == 500


def test_data_file_with_unhelpful_name_needs_symbol(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_atb_csv(tmp_path / "candles.csv", bundled("ETHUSDT"), 400)
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(path)))
    assert "--symbol" in line
    result = run_main(capsys, "backtest", "--strategy", "ema_trend",
        "--data", str(path), "--symbol", "ETHUSDT", "--json")
    assert result.code == 0, result.err
    assert result.json()["config"]["symbols"] == ["ETHUSDT"]
    assert result.json()["data"]["bars"] == 400


def test_data_file_with_shuffled_rows_names_file_and_line(tmp_path: Path) -> None:
    lines = ["open_time_ms,open,high,low,close,volume", *bundled("BTCUSDT").lines[:300]]
    lines[100], lines[101] = lines[101], lines[100]  # line 102 (1-based) now goes back in time
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text("\n".join(lines) + "\n")
    line = assert_one_error_line(run_atb(tmp_path, "backtest", "--strategy", "ema_trend", "--data", str(path)), 1)
    assert str(path) in line
    assert "line 102" in line


def test_data_file_with_nan_close_names_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = ["open_time_ms,open,high,low,close,volume", *bundled("BTCUSDT").lines[:300]]
    fields = lines[250].split(",")
    fields[4] = "NaN"
    lines[250] = ",".join(fields)  # line 251
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text("\n".join(lines) + "\n")
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(path)), 1)
    assert str(path) in line
    assert "line 251" in line
    assert "close" in line


def test_data_file_refuses_a_timeframe_it_does_not_hold(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_atb_csv(tmp_path / "BTCUSDT-1h.csv", bundled("BTCUSDT"), 400)
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend",
        "--data", str(path), "--timeframe", "4h"))
    assert "1h" in line


def test_missing_data_file_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend",
        "--data", str(tmp_path / "candles.csv")))
    assert "no such file" in line


# ---------------------------------------------------------------------------------------------------------------
# Other commands, human output, fees, settings


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run_atb(tmp_path, "--help")
    assert result.code == 0
    assert "backtest" in result.out
    assert "data" in result.out


def test_data_list_as_subprocess(tmp_path: Path) -> None:
    result = run_atb(tmp_path, "data", "list")
    assert result.code == 0, result.err
    for symbol in ("BTCUSDT", "ETHUSDT"):
        bars = bundled(symbol)
        assert f"{len(bars.time):,}" == "33,412"
        row = next(line for line in result.out.splitlines() if symbol in line)
        assert f"{len(bars.time):,}" in row


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--symbol", "ETHUSDT", "--start", "2020-01-01")
    assert result.code == 0, result.err
    for label in ("Total return", "Sharpe", "Buy & hold", "ETHUSDT"):
        assert label in result.out
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.out)


def test_zero_fees_pay_nothing_and_end_no_lower(capsys: pytest.CaptureFixture[str]) -> None:
    span = ("--start", "2018-01-01", "--end", "2020-01-01")
    default = run_main(capsys, "backtest", "--strategy", "ema_trend", *span, "--json").json()
    free = run_main(capsys, "backtest", "--strategy", "ema_trend", *span, "--fee-bps", "0", "--json").json()
    assert default["config"]["fee_bps"] > 0
    assert free["config"]["fee_bps"] == 0
    assert default["metrics"]["trades"] > 0
    assert default["metrics"]["total_fees"] > 0
    assert free["metrics"]["total_fees"] == 0
    assert all(t["fees"] == 0 for t in free["trades"])
    assert free["metrics"]["final_equity"] >= default["metrics"]["final_equity"]
    assert free["metrics"]["total_return"] >= default["metrics"]["total_return"]


def test_balance_precedence_env_file_environment_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    span = ("--start", "2021-01-01")

    def balance(*extra: str) -> float:
        result = run_main(capsys, "backtest", "--strategy", "ema_trend", *span, *extra, "--json")
        assert result.code == 0, result.err
        value = result.json()["config"]["initial_balance"]
        assert isinstance(value, float)
        return value

    (tmp_path / ".env").write_text("ATB_INITIAL_BALANCE=500\n")
    assert balance() == 500
    monkeypatch.setenv("INITIAL_BALANCE", "700")
    assert balance() == 700
    assert balance("--balance", "900") == 900
    other = tmp_path / "other.env"
    other.write_text("ATB_FEE_BPS=3\n")
    result = run_main(capsys, "--env-file", str(other), "backtest", "--strategy", "ema_trend", *span, "--json")
    assert result.json()["config"]["fee_bps"] == 3
    assert result.json()["config"]["initial_balance"] == 700


def test_unknown_setting_in_environment_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATB_FEE_BSP", "3")
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend"), 1)
    assert "ATB_FEE_BSP" in line


def test_invalid_setting_in_env_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ATB_LOG_LEVEL=LOUD\n")
    line = assert_one_error_line(run_main(capsys, "data", "list"), 1)
    assert "ATB_LOG_LEVEL" in line  # names the variable the user set


def test_json_output_is_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    # A short range with no losing trade would give an infinite profit factor: still valid JSON.
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--start", "2021-05-01", "--json")
    assert result.code == 0, result.err

    def reject(token: str) -> float:
        raise AssertionError(f"non-standard JSON number {token}")

    report = json.loads(result.out, parse_constant=reject)
    for value in report["metrics"].values():
        assert value is None or (isinstance(value, float) and math.isfinite(value))
