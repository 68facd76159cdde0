"""``atb backtest compare``: N sides, one strategy against itself with other parameters, every side in the JSON,
one HTML report with the sides overlaid. A side's result is checked against a plain ``atb backtest`` with the
same parameters, run here."""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.metrics import METRICS
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from entrypoints.reports.compare import render_comparison_html
from entrypoints.reports.fmt import format_metric
from tests.builders import random_walk
from tests.e2e.test_cli import assert_one_error_line, run_main
from tests.e2e.test_report import parse
from tests.fakes.market_data import InMemoryMarketData

START = ("--start", "2020-01-01")


def _sides(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    result = run_main(capsys, "backtest", "compare", *args, "--json")
    assert result.code == 0, result.err
    sides = result.json()["sides"]
    assert isinstance(sides, list)
    return sides


def _single(capsys: pytest.CaptureFixture[str], strategy: str, *args: str) -> dict[str, Any]:
    result = run_main(capsys, "backtest", "--strategy", strategy, *args, "--json")
    assert result.code == 0, result.err
    return result.json()


def _assert_same_run(side: dict[str, Any], single: dict[str, Any]) -> None:
    report = side["report"]
    assert report["strategy"] == single["strategy"]
    assert report["data"] == single["data"]
    assert report["trades"] == single["trades"]
    assert report["metrics"]["final_equity"] == single["metrics"]["final_equity"]


def test_three_sides_keep_one_strategy_twice_with_its_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    sides = _sides(capsys, "ema_trend", "ema_trend", "ema_cross", "--side-param", "2:fast=20", *START)
    assert [s["strategy"] for s in sides] == ["ema_trend", "ema_trend", "ema_cross"]
    labels = [s["label"] for s in sides]
    assert len(set(labels)) == 3
    assert "fast=20" in labels[1] and "fast=20" not in labels[0]
    assert [s["params"] for s in sides] == [{}, {"fast": "20"}, {}]
    assert sides[1]["report"]["strategy"]["params"]["fast"] == 20
    assert sides[0]["report"]["strategy"]["params"]["fast"] != 20
    for side in sides[1:]:  # the same bars
        assert [side["report"]["data"][k] for k in ("start", "end", "bars")] == [
            sides[0]["report"]["data"][k] for k in ("start", "end", "bars")
        ]
    # where the parameters differ, so do the results; each side is the plain backtest with its parameters
    assert sides[0]["report"]["trades"] != sides[1]["report"]["trades"]
    _assert_same_run(sides[0], _single(capsys, "ema_trend", *START))
    _assert_same_run(sides[1], _single(capsys, "ema_trend", "--param", "fast=20", *START))
    _assert_same_run(sides[2], _single(capsys, "ema_cross", *START))


def test_shared_params_reach_every_side_and_a_side_param_wins(capsys: pytest.CaptureFixture[str]) -> None:
    sides = _sides(
        capsys, "ema_trend", "ema_trend", "--param", "fast=30", "--param", "slow=150",
        "--side-param", "2:fast=20", *START,
    )  # fmt: skip
    first, second = (s["report"]["strategy"]["params"] for s in sides)
    assert (first["fast"], first["slow"]) == (30, 150)
    assert (second["fast"], second["slow"]) == (20, 150)
    assert sides[1]["params"] == {"fast": "20", "slow": "150"}
    _assert_same_run(sides[0], _single(capsys, "ema_trend", "--param", "fast=30", "--param", "slow=150", *START))
    _assert_same_run(sides[1], _single(capsys, "ema_trend", "--param", "slow=150", "--param", "fast=20", *START))


def test_the_same_strategy_twice_without_side_params_gets_numbered_labels(capsys: pytest.CaptureFixture[str]) -> None:
    sides = _sides(capsys, "ema_cross", "ema_cross", "--start", "2021-01-01")
    labels = [s["label"] for s in sides]
    assert len(set(labels)) == 2 and all(label.startswith("ema_cross") for label in labels)
    assert sides[0]["report"]["trades"] == sides[1]["report"]["trades"]


@pytest.mark.parametrize("bad", ["fast=20", "3:fast=20", "0:fast=20", "x:fast=20", "2:fast", "2:=20", ":fast=20"])
def test_bad_side_syntax_is_one_line_before_any_run(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    result = run_main(capsys, "backtest", "compare", "ema_trend", "ema_trend", "--side-param", bad, *START)
    line = assert_one_error_line(result, 2)
    assert "--side-param" in line and result.out == ""


def test_an_unknown_parameter_names_its_side_before_any_run(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "compare", "ema_trend", "ema_cross", "--side-param", "2:atr_stop=2")
    line = assert_one_error_line(result, 1)
    assert "side 2" in line and "atr_stop" in line and result.out == ""


@pytest.mark.parametrize("args", [(), ("ema_trend",), ("ema_trend", "--side-param", "1:fast=20")])
def test_fewer_than_two_sides_is_an_error(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    line = assert_one_error_line(run_main(capsys, "backtest", "compare", *args), 2)
    assert "two or more" in line


def test_the_text_table_has_a_column_per_side(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "compare", "ema_trend", "ema_trend", "ema_cross",
                      "--side-param", "2:fast=20", "--start", "2021-01-01")  # fmt: skip
    assert result.code == 0, result.err
    header = next(line for line in result.out.splitlines() if "Metric" in line)
    cells = [c.strip() for c in re.split(r"[┃│|]", header) if c.strip()]
    assert cells == ["Metric", "ema_trend", "ema_trend(fast=20)", "ema_cross"]


def _last_point(d: str) -> tuple[float, float]:
    x, y = re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)[-1]
    return float(x), float(y)


def test_the_html_report_overlays_every_side(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    sides = _sides(capsys, "ema_trend", "ema_trend", "ema_cross", "--side-param", "2:fast=20", *START,
                   "--report", str(out))  # fmt: skip
    labels = [s["label"] for s in sides]
    doc = parse(out.read_text(encoding="utf-8"))
    equity = doc.one("section", id="equity")
    legend = [n.text() for n in equity.find_all("span", cls="side")]
    assert legend == labels
    # every side's curve in both scales (linear and log) and its drawdown
    for label in labels:
        assert len(equity.find_all("path", cls="eq", data_side=label)) == 2
        assert len(equity.find_all("path", cls="dd", data_side=label)) == 1
    assert len(equity.find_all("path", cls="bench")) == 2
    # the hover read-out ends at each side's final equity, and the curves end in that order
    hover = json.loads(doc.one("script", id="hover-equity").text())
    series = {s["n"]: s["v"] for s in hover["s"]}
    finals = {s["label"]: s["report"]["metrics"]["final_equity"] for s in sides}
    for label, final in finals.items():
        assert series[label][-1] == pytest.approx(final, abs=0.01)
    assert series["Buy & hold"][-1] == pytest.approx(
        (1 + sides[0]["report"]["metrics"]["buy_and_hold_return"]) * sides[0]["report"]["config"]["initial_balance"],
        abs=0.01,
    )
    linear = equity.one("g", cls="when-lin")
    ends = {label: _last_point(linear.one("path", cls="eq", data_side=label).attrs["d"]) for label in labels}
    assert len({x for x, _ in ends.values()}) == 1  # same range: the curves end at the same time
    by_equity = sorted(labels, key=lambda label: finals[label])
    by_height = sorted(labels, key=lambda label: -ends[label][1])  # higher on the page = smaller y
    assert by_equity == by_height
    # the metrics side by side, formatted as the CLI does
    metrics = doc.one("section", id="metrics")
    head = [n.text() for n in metrics.one("thead").find_all("th")]
    assert head == ["Metric", *labels]
    kinds = {spec.key: spec.kind for spec in METRICS}
    for key in ("final_equity", "trades", "total_return", "max_drawdown"):
        row = metrics.one("tr", data_key=key)
        cells = [n.text() for n in row.find_all("td")][1:]
        assert cells == [format_metric(kinds[key], s["report"]["metrics"][key]) for s in sides]


def test_a_report_into_a_missing_directory_fails_before_the_runs(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "missing" / "compare.html"
    result = run_main(capsys, "backtest", "compare", "ema_trend", "ema_cross", "--report", str(out))
    assert "--report" in assert_one_error_line(result, 1)
    assert result.out == "" and not out.exists()


def test_sides_on_different_ranges_share_one_time_axis() -> None:
    """The read-out of a side is empty outside its range and its equity inside it (marked at each close)."""
    candles = random_walk(3000, seed=5)
    use_case = RunBacktest(InMemoryMarketData(candles), simulator)
    base = BacktestRequest("ema_cross", (Symbol.parse("BTCUSDT"),), Timeframe.H1, Decimal(10_000),
                           params={"fast": "8", "slow": "30"})  # fmt: skip
    late_start = int(candles.open_time[1500])
    early = use_case(base)
    late = use_case(dataclasses.replace(base, start_ms=late_start))
    doc = parse(render_comparison_html([("early", early), ("late", late)]))
    hover = json.loads(doc.one("script", id="hover-equity").text())
    times = np.array(hover["t"], dtype=np.int64)
    series = {s["n"]: np.array([np.nan if v is None else v for v in s["v"]]) for s in hover["s"]}
    bar = Timeframe.H1.milliseconds
    for name, report, start in (("early", early, int(early.open_time[0])), ("late", late, late_start)):
        marks_t = np.concatenate(([start], report.open_time + bar))
        marks = np.concatenate(([float(report.request.initial_cash)], report.equity))
        inside = times >= start
        assert np.isnan(series[name][~inside]).all()
        expected = marks[np.searchsorted(marks_t, times[inside], side="right") - 1]
        assert series[name][inside] == pytest.approx(np.round(expected, 2), abs=0.006)
    assert hover["t0"] == int(early.open_time[0]) and hover["t1"] == int(early.open_time[-1]) + bar
