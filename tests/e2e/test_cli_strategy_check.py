"""``atb strategies check``: one screen naming each failed check and its first bar (index and UTC time); exit 0
when all pass, 1 when one fails; and ``atb backtest --unchecked`` refused where it could change nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from application.use_cases.check_strategy import CheckStrategy
from domain.strategies.registry import Entry
from entrypoints.cli import strategy_check
from tests.e2e.test_cli import assert_one_error_line, run_main
from tests.integration.test_strategy_checks import CountingMarketData, user_entry

SCREEN = 25
FAIL = re.compile(r"^  (look-ahead|prefix|history)\s+FAIL  at bar (\d+) \((\d{4}-\d\d-\d\d \d\d:\d\d) UTC\)")


def test_a_builtin_passes_on_one_symbol_in_one_screen(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "strategies", "check", "ema_cross", "--symbol", "BTCUSDT")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) <= SCREEN
    assert lines[0].startswith("ema_cross 1.0.0 (built-in); full checks; warmup 26, history_bars 520")
    assert [ln.split()[0] for ln in lines if re.match(r"^  \S+\s+pass ", ln)] == ["look-ahead", "prefix", "history"]
    assert lines[-1].startswith("passed: no look-ahead found")
    assert "ETHUSDT" not in result.out


def test_json_holds_every_series_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "strategies", "check", "ml_basic", "--json", "--param", "smooth=3")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["passed"] is True and report["mode"] == "full" and report["params"]["smooth"] == 3
    assert [s["symbol"] for s in report["series"]] == ["BTCUSDT", "ETHUSDT"]
    for series in report["series"]:
        assert [r["check"] for r in series["results"]] == ["look-ahead", "prefix", "history"]
        history = series["results"][2]
        assert history["checked"] == series["bars"] - report["history_bars"] + 1


def test_fast_checks_one_symbol(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "strategies", "check", "ema_trend", "--fast", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["mode"] == "fast" and len(report["series"]) == 1


@pytest.mark.parametrize("name", ["leaky_shift", "leaky_centred"])
def test_a_leaky_strategy_exits_1_naming_each_failed_check_and_bar(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = user_entry(name)

    def resolve(ctx: object, wanted: str) -> Entry:
        assert wanted == name
        return entry

    monkeypatch.setattr(strategy_check, "resolve_entry", resolve)
    result = run_main(capsys, "strategies", "check", name)
    assert result.code == 1
    lines = result.out.splitlines()
    assert len(lines) <= SCREEN
    report = CheckStrategy(CountingMarketData())(entry)
    shown = [FAIL.match(ln) for ln in lines]
    found = [(m[1], int(m[2]), m[3]) for m in shown if m]
    expected = [
        (r.check, r.bars[0], datetime.fromtimestamp(r.times[0] / 1000, UTC).strftime("%Y-%m-%d %H:%M"))
        for _, r in report.failures()
    ]
    assert found == expected and len(found) == 6  # three checks on each of the two bundled series
    assert lines[-1].startswith("FAILED: look-ahead, prefix, history")
    assert assert_one_error_line(result, 1) == f"error: {name} looks ahead: {report.first_failure()}"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("ema_cross", "--param", "slow=5"), "fast (12) must be below slow (5)"),
        (("ema_cross", "--symbol", "DOGEUSDT"), "no candles for DOGEUSDT to check on; available: BTCUSDT, ETHUSDT"),
    ],
)
def test_bad_input_is_one_line(args: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "strategies", "check", *args)
    assert says in assert_one_error_line(result, 1)


def test_an_unknown_name_is_a_usage_error_listing_the_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "strategies", "check", "moonshot")
    line = assert_one_error_line(result, 2)
    assert "unknown strategy 'moonshot'" in line
    assert "ema_trend" in line


def test_unchecked_is_refused_for_a_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_cross", "--unchecked")
    assert "ema_cross is built-in" in assert_one_error_line(result, 2)
