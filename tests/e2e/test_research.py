"""The research API (``entrypoints.research.backtest``) against ``atb backtest --json`` and the raw candles.

Oracles: the CLI's JSON for the same settings; the bundled file read here with gzip/csv; the same candles as a
CSV file and as a DataFrame; the bars between a trade's entry and exit for its excursions.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import adapters.files
from entrypoints.cli.main import main
from entrypoints.research import BacktestResult, backtest

BUNDLED_DIR = Path(adapters.files.__file__).parent / "bundled"
HOUR_MS = 3_600_000
RANGE = {"start": "2020-01-01", "end": "2021-01-01"}


@lru_cache(maxsize=2)
def raw(symbol: str) -> pd.DataFrame:
    """The bundled file, read without atb: open_time (int ms) and the five columns."""
    with gzip.open(BUNDLED_DIR / f"{symbol}-1h.csv.gz", "rt", newline="") as f:
        rows = list(csv.reader(f))[1:]
    frame = pd.DataFrame(
        {
            "open_time": np.array([int(r[0]) for r in rows], dtype=np.int64),
            **{name: np.array([float(r[k]) for r in rows]) for k, name in enumerate(
                ("open", "high", "low", "close", "volume"), start=1)},
        }
    )  # fmt: skip
    return frame


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    try:
        main(["backtest", *args, "--json"])
    except SystemExit as e:
        assert e.code in (0, None), capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def roundtrip(data: dict[str, Any]) -> dict[str, Any]:
    """What printing a dict as JSON and reading it back gives (tuples become lists ...)."""
    out = json.loads(json.dumps(data, allow_nan=False))
    assert isinstance(out, dict)
    return out


@pytest.fixture(scope="module")
def btc() -> BacktestResult:
    return backtest("ema_trend", symbol="BTCUSDT", **RANGE)


# ---------------------------------------------------------------------------------------------------------------
# The same run as the CLI


@pytest.mark.parametrize(
    ("kwargs", "args"),
    [
        ({"symbol": "BTCUSDT", **RANGE}, ("--symbol", "BTCUSDT", "--start", RANGE["start"], "--end", RANGE["end"])),
        (
            {"symbol": "ETHUSDT", "params": {"fast": 20, "slow": 100}, "fee_bps": 5, "slippage_bps": 2,
             "balance": 2500, "risk": {"max_risk_per_trade": 0.01}, "start": "2019-06-01", "end": "2020-06-01"},
            ("--symbol", "ETHUSDT", "--param", "fast=20", "--param", "slow=100", "--fee-bps", "5",
             "--slippage-bps", "2", "--balance", "2500", "--risk", "max_risk_per_trade=0.01",
             "--start", "2019-06-01", "--end", "2020-06-01"),
        ),
        ({"symbol": ["BTCUSDT", "ETHUSDT"], "no_risk": True, **RANGE},
         ("--symbol", "BTCUSDT", "--symbol", "ETHUSDT", "--no-risk", "--start", RANGE["start"], "--end", RANGE["end"])),
    ],
    ids=["defaults", "params-fees-risk", "portfolio-no-risk"],
)  # fmt: skip
def test_the_function_is_the_cli(
    capsys: pytest.CaptureFixture[str], kwargs: dict[str, Any], args: tuple[str, ...]
) -> None:
    result = backtest("ema_trend", **kwargs)
    printed = cli_json(capsys, "--strategy", "ema_trend", *args)
    assert roundtrip(result.to_json()) == printed  # every key: trades, metrics, equity curve, notes ...
    assert len(result.trades) == len(printed["trades"]) > 0
    assert result.trades["pnl"].tolist() == [t["pnl"] for t in printed["trades"]]
    assert result.equity["equity"].iloc[-1] == printed["equity_curve"]["equity"][-1]
    for key, value in printed["metrics"].items():
        got = result.metrics[key]
        assert (value is None and not math.isfinite(got)) or got == value, key


def test_json_trades_and_dataframe_rows_agree(btc: BacktestResult) -> None:
    records = btc.to_json()["trades"]
    assert list(btc.trades.columns) == list(records[0])
    for row, record in zip(btc.trades.itertuples(index=False), records, strict=True):
        assert row.entry_time == pd.Timestamp(record["entry_time"])
        assert row.exit_time == pd.Timestamp(record["exit_time"])
        assert (row.entry_price, row.exit_price, row.quantity, row.pnl) == (
            record["entry_price"], record["exit_price"], record["quantity"], record["pnl"])  # fmt: skip
        assert row.mfe == record["mfe"] and row.mae == record["mae"]


def test_the_trades_add_up_to_the_final_equity(btc: BacktestResult) -> None:
    initial = btc.to_json()["config"]["initial_balance"]
    if not btc.report.open_positions:  # flat at the end: cash is the start plus every trade's PnL
        assert btc.equity["equity"].iloc[-1] == pytest.approx(initial + btc.trades["pnl"].sum(), rel=1e-9)
        assert btc.equity["cash"].iloc[-1] == pytest.approx(btc.equity["equity"].iloc[-1], rel=1e-12)
    assert len(btc.trades) == btc.metrics["trades"]


# ---------------------------------------------------------------------------------------------------------------
# The equity curve


def test_the_equity_curve_has_one_row_per_bar_of_the_range(btc: BacktestResult) -> None:
    bars = raw("BTCUSDT")
    start = pd.Timestamp(RANGE["start"], tz="UTC").value // 1_000_000
    end = pd.Timestamp(RANGE["end"], tz="UTC").value // 1_000_000
    times = bars["open_time"][(bars["open_time"] >= start) & (bars["open_time"] < end)].to_numpy()
    assert btc.equity.index.as_unit("ms").asi8.tolist() == times.tolist()
    assert list(btc.equity.columns) == ["equity", "cash", "exposure"]
    curve = btc.to_json()["equity_curve"]
    assert [pd.Timestamp(t).value // 1_000_000 for t in curve["time"]] == times.tolist()
    assert len(curve["equity"]) == len(curve["cash"]) == len(curve["exposure"]) == btc.report.bars == len(times)


def test_equity_is_cash_plus_the_position_and_exposure_its_share(btc: BacktestResult) -> None:
    curve = btc.equity
    flat = curve["exposure"] == 0
    assert flat.any() and (~flat).any()
    np.testing.assert_allclose(curve.loc[flat, "equity"], curve.loc[flat, "cash"], rtol=1e-12)
    held = curve.loc[~flat]
    # a long-only, unlevered account: position value = equity - cash = exposure x equity
    np.testing.assert_allclose(held["equity"] - held["cash"], held["exposure"] * held["equity"], rtol=1e-9)
    assert ((curve["exposure"] >= 0) & (curve["exposure"] <= 1 + 1e-9)).all()


# ---------------------------------------------------------------------------------------------------------------
# Excursions and stops


def _rows(bars: pd.DataFrame, entry: pd.Timestamp, exit_: pd.Timestamp) -> pd.DataFrame:
    ms = bars["open_time"]
    return bars[(ms >= entry.value // 1_000_000) & (ms <= exit_.value // 1_000_000)]


def test_mfe_and_mae_are_the_extremes_between_entry_and_exit(btc: BacktestResult) -> None:
    bars = raw("BTCUSDT")
    trades = btc.trades
    assert (trades["mfe"] >= 0).all() and (trades["mae"] <= 0).all()
    for t in trades.itertuples(index=False):
        span = _rows(bars, t.entry_time, t.exit_time)
        assert t.mfe == pytest.approx(max(span["high"].max() / t.entry_price - 1, 0.0), abs=1e-12)
        assert t.mae == pytest.approx(min(span["low"].min() / t.entry_price - 1, 0.0), abs=1e-12)


def test_long_stops_sit_below_the_entry_and_a_stop_exit_fills_at_or_below_its_stop(btc: BacktestResult) -> None:
    trades = btc.trades
    longs = trades[trades["direction"] == "long"]
    assert len(longs) == len(trades) > 0
    assert longs["stop_initial"].notna().all()  # ema_trend always attaches an ATR stop
    assert (longs["stop_initial"] < longs["entry_price"]).all()
    assert (longs["stop_last"] >= longs["stop_initial"]).all()  # a stop never loosens
    stopped = longs[longs["exit_reason"] == "stop_loss"]
    assert len(stopped) > 0
    assert (stopped["exit_price"] <= stopped["stop_last"]).all()  # slippage and gaps only make it worse


def test_a_trailing_stop_is_reported_where_it_had_moved_to() -> None:
    # momentum_leverage trails its stop by 4 ATR: the stop at the exit lies above the one set at entry
    result = backtest("momentum_leverage", symbol="BTCUSDT", start="2019-01-01", end="2021-01-01")
    trades = result.trades
    assert len(trades) > 0 and trades["stop_initial"].notna().all()
    moved = trades[trades["stop_last"] > trades["stop_initial"]]
    assert len(moved) > 0
    assert (trades["stop_last"] >= trades["stop_initial"]).all()
    for t in moved.itertuples(index=False):  # a trailed stop is below the highest high it trailed
        assert t.stop_last < _rows(raw("BTCUSDT"), t.entry_time, t.exit_time)["high"].max()
    for t in trades[trades["exit_reason"] == "trailing_stop"].itertuples(index=False):
        assert t.exit_price <= t.stop_last


def test_no_stop_is_nan_in_the_frame_and_null_in_the_json() -> None:
    result = backtest("ema_trend", symbol="BTCUSDT", params={"atr_stop": 0}, **RANGE)
    assert len(result.trades) > 0
    assert result.trades["stop_initial"].isna().all() and result.trades["stop_last"].isna().all()
    assert all(t["stop_initial"] is None and t["stop_last"] is None for t in result.to_json()["trades"])


# ---------------------------------------------------------------------------------------------------------------
# DataFrame and file sources


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    path.write_text(
        "open_time_ms,open,high,low,close,volume\n"
        + "".join(f"{int(t)},{o!r},{h!r},{lo!r},{c!r},{v!r}\n" for t, o, h, lo, c, v in frame.itertuples(index=False))
    )
    return path


def _same_run(a: BacktestResult, b: BacktestResult) -> None:
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    pd.testing.assert_series_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.denials, b.denials)


def test_a_dataframe_runs_as_the_same_candles_in_a_csv_file(tmp_path: Path) -> None:
    candles = raw("ETHUSDT").iloc[:6000].reset_index(drop=True)
    from_file = backtest("ema_trend", _csv(tmp_path / "ETHUSDT-1h.csv", candles))
    assert len(from_file.trades) > 0
    indexed = candles.set_index(pd.to_datetime(candles["open_time"], unit="ms")).drop(columns="open_time")
    variants = {
        "ms column": candles,
        "naive DatetimeIndex": indexed,
        "UTC DatetimeIndex": indexed.tz_localize("UTC"),
        "other zone": indexed.tz_localize("UTC").tz_convert("Asia/Tokyo"),
        "capitalised": indexed.rename(columns=str.capitalize),
    }
    for name, frame in variants.items():
        from_frame = backtest("ema_trend", frame, symbol="ETHUSDT")
        _same_run(from_file, from_frame)
        assert from_frame.to_json()["data"] == from_file.to_json()["data"], name


def test_a_dict_of_dataframes_is_a_portfolio_like_two_files(tmp_path: Path) -> None:
    btc, eth = raw("BTCUSDT").iloc[:4000], raw("ETHUSDT").iloc[:4000]
    files = [_csv(tmp_path / "BTCUSDT-1h.csv", btc), _csv(tmp_path / "ETHUSDT-1h.csv", eth)]
    from_files = backtest("ema_trend", files)
    from_frames = backtest("ema_trend", {"BTCUSDT": btc, "ETHUSDT": eth})
    assert from_frames.report.symbols == ("BTCUSDT", "ETHUSDT")
    _same_run(from_files, from_frames)


def _one_line_error(frame: Any, **kwargs: Any) -> str:
    with pytest.raises(ValueError) as err:
        backtest("ema_trend", frame, **kwargs)
    message = str(err.value)
    assert "\n" not in message and message
    return message


def _at(frame: pd.DataFrame, row: int) -> str:
    """The time the error names for ``row`` of a spoiled frame (read from the frame, not atb)."""
    return pd.Timestamp(int(frame["open_time"].iloc[row]), unit="ms").strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("spoil", "row", "rule"),
    [
        (lambda f: f.iloc[::-1], 1, "timestamp goes backwards"),
        (lambda f: pd.concat([f.iloc[:10], f.iloc[9:]]), 10, "duplicate timestamp"),
        (lambda f: f.assign(close=f["close"].where(f.index != 7, np.nan)), 7, "close is NaN or infinite"),
        (lambda f: f.assign(high=f["high"].where(f.index != 3, np.inf)), 3, "high is NaN or infinite"),
        (lambda f: f.assign(low=f["low"].where(f.index != 5, -1.0)), 5, "low is not positive"),
        (lambda f: f.assign(volume=f["volume"].where(f.index != 2, -3.0)), 2, "volume is negative"),
        (lambda f: f.assign(open=f["open"].astype(object).where(f.index != 4, "n/a")), None,
         "row 4: open 'n/a' is not a number"),
        (lambda f: f.drop(columns=["volume", "low"]), None, "missing column(s) low, volume"),
        (lambda f: f.drop(columns="open_time"), None, "no bar times"),
        (lambda f: f.assign(open_time=f["open_time"] + 0.5), None, "is not a whole number of ms"),
        (lambda f: f.iloc[:0], None, "no rows"),
    ],
    ids=["backwards", "duplicate", "nan", "inf", "negative-price", "negative-volume", "text", "missing-columns",
         "no-times", "fractional-ms", "empty"],
)  # fmt: skip
def test_a_bad_dataframe_is_refused_naming_the_row_and_the_rule(spoil: Any, row: int | None, rule: str) -> None:
    candles = raw("BTCUSDT").iloc[:300].reset_index(drop=True)
    spoiled = spoil(candles)
    message = _one_line_error(spoiled, symbol="BTCUSDT")
    assert message.startswith("DataFrame (BTCUSDT)")
    if row is None:
        assert rule in message
    else:
        assert f"row {row} ({_at(spoiled, row)} UTC): {rule}" in message


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        ("frame", {}, "a DataFrame holds one symbol: name it"),
        ("frame", {"symbol": ["BTCUSDT", "ETHUSDT"]}, "a DataFrame holds one symbol"),
        ("frame", {"symbol": "BTCUSDT", "timeframe": "4h"}, "holds 1h bars, not 4h"),
        ({"BTCUSDT": [1, 2]}, {}, "data['BTCUSDT']: expected a pandas DataFrame, got list"),
        (42, {}, "data: give a candle file (path)"),
        (None, {"balance": 0}, "balance: 0 is out of range"),
        (None, {"fee_bps": math.nan}, "fee_bps: nan is not a finite number"),
        (None, {"intrabar": "random"}, "intrabar: 'random' is not one of stop_first, target_first"),
        (None, {"no_risk": True, "sizer": "fixed_fraction"}, "no_risk turns the sizer and the risk manager off"),
        (None, {"leverage": 3}, "leverage 3: ema_trend never holds more than 1x equity"),
        (None, {"start": "01/02/2020"}, "start: '01/02/2020' is not a date"),
        (None, {"tick_size": -1}, "tick_size: must be a positive number"),
        (None, {"params": ["fast=3"]}, "params: give a dict"),
    ],
)
def test_bad_arguments_are_a_value_error_naming_the_argument(data: Any, kwargs: dict[str, Any], expected: str) -> None:
    frame = raw("BTCUSDT").iloc[:300] if isinstance(data, str) else data
    assert expected in _one_line_error(frame, **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# The HTML report


def test_the_html_report_is_the_clis(btc: BacktestResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = btc.html()
    assert html.lower().startswith("<!doctype html>") and "ema_trend" in html
    written = btc.save_html(tmp_path / "report.html")
    assert written.read_text(encoding="utf-8") == html
    cli = tmp_path / "cli.html"
    cli_json(capsys, "--strategy", "ema_trend", "--symbol", "BTCUSDT", "--start", RANGE["start"], "--end",
             RANGE["end"], "--report", str(cli))  # fmt: skip
    assert len(cli.read_text(encoding="utf-8")) == len(html)  # the same report (its build time aside)


def test_save_html_refuses_what_report_refuses(btc: BacktestResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        btc.save_html(tmp_path)
    with pytest.raises(ValueError, match="inside the bundled data"):
        btc.save_html(BUNDLED_DIR / "x.html")
    with pytest.raises(ValueError, match="does not exist"):
        btc.save_html(tmp_path / "missing" / "x.html")
    data = _csv(tmp_path / "BTCUSDT-1h.csv", raw("BTCUSDT").iloc[:3000])
    from_file = backtest("ema_trend", data)
    with pytest.raises(ValueError, match="that is the data file"):
        from_file.save_html(data)


# ---------------------------------------------------------------------------------------------------------------
# docs/research.md


def test_every_python_block_of_the_research_page_runs(capsys: pytest.CaptureFixture[str]) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "research.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", page, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 4
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"docs/research.md block {number}", "exec"), {})
    out = capsys.readouterr().out
    # what the page says a print shows (its comment, up to an ellipsis) is what it printed
    claims = re.findall(r"^\s*print\(.*\)  # (.+)$", page, flags=re.MULTILINE)
    claims = [c.split(" ...")[0].strip() for c in claims
              if c.startswith(("BacktestResult(", "DataFrame (", "notebook_cross"))]  # fmt: skip
    assert len(claims) == 3
    for claim in claims:
        assert claim in out, claim


def test_the_host_keeps_its_logging() -> None:
    root = logging.getLogger()
    mine = logging.NullHandler()
    root.addHandler(mine)
    try:
        before = (list(root.handlers), root.level)
        backtest("ema_trend", symbol="BTCUSDT", **RANGE)
        assert (list(root.handlers), root.level) == before
    finally:
        root.removeHandler(mine)


# ---------------------------------------------------------------------------------------------------------------
# Strategies defined in the notebook itself


def _notebook_strategies() -> tuple[type[Any], type[Any]]:
    from domain.strategies.api import Context, Param, Signals, Strategy, crossings, ema

    class FastCross(Strategy):
        """ema_cross's rules, written in a notebook."""

        name = "nb_cross"
        version = "1.0.0"
        fast = Param(12, low=2, high=100, help="fast EMA")
        slow = Param(26, low=3, high=400, help="slow EMA")

        @property
        def warmup(self) -> int:
            return int(self.slow)

        def signals(self, candles: Any, context: Context) -> Signals:
            close = candles.close
            up, down = crossings(ema(close, self.fast), ema(close, self.slow), self.warmup)
            no = np.zeros(len(close), dtype=np.bool_)
            return Signals(up, down, no, no.copy(), close * 0.02, np.ones(len(close)), self.warmup)

    class Peeks(FastCross):
        name = "nb_peeks"

        def signals(self, candles: Any, context: Context) -> Signals:
            honest = super().signals(candles, context)
            ahead = np.concatenate((candles.close[1:], candles.close[-1:]))  # tomorrow's close
            entry = ahead > candles.close * 1.01
            entry[: self.warmup] = False
            return Signals(entry, honest.long_exit, honest.short_entry, honest.short_exit, honest.stop_distance,
                           honest.size, honest.warmup)  # fmt: skip

    return FastCross, Peeks


def test_a_strategy_class_from_the_notebook_runs_like_the_same_rules_built_in() -> None:
    cross, _ = _notebook_strategies()
    mine = backtest(cross(fast=10, slow=30), symbol="BTCUSDT", **RANGE)
    same = backtest(cross, symbol="BTCUSDT", params={"fast": 10, "slow": 30}, **RANGE)
    builtin = backtest("ema_cross", symbol="BTCUSDT", params={"fast": 10, "slow": 30}, **RANGE)
    assert mine.report.strategy_name == "nb_cross"
    assert len(mine.trades) == len(builtin.trades) > 5
    assert mine.trades["entry_time"].tolist() == builtin.trades["entry_time"].tolist()
    assert mine.trades["pnl"].tolist() == builtin.trades["pnl"].tolist() == same.trades["pnl"].tolist()
    assert not any(note.startswith("LOOK-AHEAD") for note in mine.notes)


def test_a_leaky_notebook_strategy_is_refused_unless_unchecked() -> None:
    from application.use_cases.check_strategy import LeakyStrategy

    _, peeks = _notebook_strategies()
    with pytest.raises(LeakyStrategy, match="nb_peeks looks ahead: the look-ahead check failed on BTCUSDT"):
        backtest(peeks, symbol="BTCUSDT", **RANGE)
    run = backtest(peeks, symbol="BTCUSDT", unchecked=True, **RANGE)
    assert run.notes[0].startswith("LOOK-AHEAD: nb_peeks")
    assert len(run.trades) > 0


def test_a_strategy_that_breaks_the_api_is_refused_with_its_line() -> None:
    from domain.strategies.api import Param, Strategy
    from domain.strategies.registry import StrategyLoadError

    class NoDefault(Strategy):
        name = "nb_broken"
        slow = Param(low=2, high=10)

    with pytest.raises(StrategyLoadError, match=r"test_research\.py:\d+: class NoDefault does not implement signals"):
        backtest(NoDefault, symbol="BTCUSDT", **RANGE)
