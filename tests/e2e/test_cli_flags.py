"""No silent drops, errors before work: flags that cannot take effect, output paths, group help, and the
reason a run made no trade (issue #12, point 5)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import entrypoints.reports
from application.use_cases import run_backtest
from domain.strategies.registry import create_strategy
from tests.e2e.test_cli import (
    ATB,
    HOUR_MS,
    Result,
    assert_one_error_line,
    bundled,
    clean_env,
    day_ms,
    run_atb,
    run_main,
    write_atb_csv,
)

SHORT_RANGE = ("--start", "2021-05-01")


@pytest.fixture
def no_backtest(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Fails the test if a backtest runs; yields the list of calls (stays empty)."""
    calls: list[int] = []

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        calls.append(1)
        raise AssertionError("the backtest ran; the error should have come before it")

    monkeypatch.setattr(run_backtest.RunBacktest, "__call__", refuse)
    yield calls
    assert not calls


def rejected(capsys: pytest.CaptureFixture[str], *args: str, code: int) -> str:
    started = time.perf_counter()
    result = run_main(capsys, *args)
    line = assert_one_error_line(result, code)
    assert result.out == ""
    assert time.perf_counter() - started < 5, "the error came late: it should come before any work"
    assert line.startswith("error: ")
    return line


# ---------------------------------------------------------------------------------------------------------------
# Flags that cannot take effect


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--sizer-param", "risk_per_trade=0.01"), ("--sizer-param", "--sizer")),
        (("--no-risk", "--risk", "max_drawdown=0.3"), ("--no-risk", "--risk")),
        (("--no-risk", "--sizer", "fixed_risk"), ("--no-risk", "--sizer")),
        (
            ("--no-risk", "--sizer", "fixed_risk", "--sizer-param", "risk_per_trade=0.01"),
            ("--no-risk", "--sizer-param"),
        ),
        (("--leverage", "3"), ("--leverage", "ema_trend", "momentum_leverage")),
        (("--allow-short",), ("--allow-short", "ema_trend never shorts")),
        (("--max-entries", "0"), ("--max-entries",)),
        (("--leverage", "0"), ("--leverage", "positive")),
        (("--model-version", "v1"), ("uses no model", "--model-version")),
        (("--model-as-of", "2021-01-01"), ("uses no model", "--model-as-of")),
    ],
)
def test_flags_that_cannot_take_effect_are_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", *args, code=2)
    for fragment in fragments:
        assert fragment in line


def test_shorts_need_both_the_strategy_and_the_account(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int]
) -> None:
    line = rejected(capsys, "backtest", "--strategy", "ensemble_weighted", "--allow-short", code=2)
    assert "--param short=true" in line
    line = rejected(capsys, "backtest", "--strategy", "ensemble_weighted", "--param", "short=true", code=2)
    assert "--allow-short" in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--risk", "nope=1"), "unknown risk setting nope"),
        (("--sizer", "nope"), "unknown sizer 'nope'"),
        (("--sizer", "fixed_risk", "--sizer-param", "nope=1"), "unknown parameter nope"),
        (("--param", "nope=1"), "unknown parameter nope"),
    ],
)
def test_unknown_names_are_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], args: tuple[str, ...], fragment: str
) -> None:
    assert fragment in rejected(capsys, "backtest", "--strategy", "ema_trend", *args, code=1)


def test_compare_refuses_the_same_combinations(capsys: pytest.CaptureFixture[str], no_backtest: list[int]) -> None:
    line = rejected(capsys, "backtest", "compare", "ema_trend", "ema_cross", "--sizer-param", "x=1", code=2)
    assert "--sizer" in line


@pytest.mark.parametrize("variable", ["ATB_MODE", "TRADING_MODE"])
@pytest.mark.parametrize("mode", ["live", "paper"])
def test_a_mode_other_than_backtest_is_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_backtest: list[int],
    variable: str,
    mode: str,
) -> None:
    monkeypatch.setenv(variable, mode)
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", code=1)
    assert repr(mode) in line and "ATB_MODE" in line


def test_a_mode_set_to_backtest_runs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_MODE", "backtest")
    assert run_main(capsys, "backtest", "--strategy", "ema_trend", *SHORT_RANGE, "--json").code == 0


def test_flags_that_do_take_effect_still_run(capsys: pytest.CaptureFixture[str]) -> None:
    """The checks refuse only what cannot work: the same flags in a combination that works run, and change the
    result where they should."""
    lev = run_main(capsys, "backtest", "--strategy", "momentum_leverage", "--leverage", "3", *SHORT_RANGE, "--json")
    assert lev.code == 0, lev.err
    assert lev.json()["config"]["leverage"] == 3
    short = run_main(capsys, "backtest", "--strategy", "ensemble_weighted", "--allow-short", "--param", "short=true",
                     "--start", "2019-01-01", "--json")  # fmt: skip
    assert short.code == 0, short.err
    assert any(t["direction"] == "short" for t in short.json()["trades"])
    sized = run_main(capsys, "backtest", "--strategy", "ema_trend", "--leverage", "2", "--sizer", "fixed_risk",
                     "--risk", "max_gross_exposure=2", *SHORT_RANGE, "--json")  # fmt: skip
    assert sized.code == 0, sized.err


# ---------------------------------------------------------------------------------------------------------------
# Output paths: checked before the backtest


def test_report_in_a_missing_directory_fails_before_the_run(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path
) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.html"
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", "--report", str(target), code=1)
    assert str(target.parent) in line and "does not exist" in line


def test_report_in_a_missing_directory_as_subprocess(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = run_atb(tmp_path, "backtest", "--strategy", "ema_trend", "--report", "/nonexistent/dir/x.html")
    line = assert_one_error_line(result, 1)
    assert "/nonexistent/dir" in line and "unexpected" not in line
    assert result.out == ""
    assert time.perf_counter() - started < 15


def test_report_on_a_directory_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path
) -> None:
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", "--report", str(tmp_path), code=2)
    assert "directory" in line


def test_report_under_a_file_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path
) -> None:
    parent = tmp_path / "plain.txt"
    parent.write_text("x")
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", "--report", str(parent / "x.html"), code=1)
    assert "not a directory" in line


def _permissions_apply() -> bool:
    """False for a user who writes read-only files anyway (root with CAP_DAC_OVERRIDE)."""
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_text("")
        probe.chmod(0o444)
        return not os.access(probe, os.W_OK)


# Root (CI runs as root) writes read-only files: there the command runs as a subprocess without the capabilities
# that override file permissions, so these tests run everywhere instead of skipping.
DROP_OVERRIDES = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")


def rejected_report_path(capsys: pytest.CaptureFixture[str], tmp_path: Path, target: Path) -> str:
    args = ("backtest", "--strategy", "ema_trend", "--report", str(target))
    if _permissions_apply():
        return rejected(capsys, *args, code=1)
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop root's permission override"
    started = time.perf_counter()
    proc = subprocess.run([*DROP_OVERRIDES, str(ATB), *args], cwd=tmp_path, env=clean_env(), capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    line = assert_one_error_line(result, 1)
    assert result.out == "" and time.perf_counter() - started < 5, "the error should come before any work"
    return line


def test_report_on_an_unwritable_file_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path
) -> None:
    target = tmp_path / "locked.html"
    target.write_text("old")
    target.chmod(0o444)
    line = rejected_report_path(capsys, tmp_path, target)
    assert "not writable" in line
    assert target.read_text() == "old"


def test_report_in_an_unwritable_directory_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        line = rejected_report_path(capsys, tmp_path, locked / "x.html")
    finally:
        locked.chmod(0o755)
    assert "not writable" in line


def test_report_over_the_data_file_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_atb_csv(tmp_path / "ETHUSDT-1h.csv", bundled("ETHUSDT"), 300)
    before = data.read_bytes()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    # The same file by another spelling: the paths are compared resolved.
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", "--data", str(data),
                    "--report", "../sub/../ETHUSDT-1h.csv", code=1)  # fmt: skip
    assert "--data file" in line and "overwrite" in line
    assert data.read_bytes() == before


def test_report_over_the_default_sqlite_database_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "atb-data"
    data_dir.mkdir()
    monkeypatch.setenv("ATB_DATA_DIR", str(data_dir))
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", "--report", str(data_dir / "atb.db"), code=1)
    assert "database file" in line


def test_report_over_the_database_url_file_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/sessions.db")
    line = rejected(capsys, "backtest", "--strategy", "ema_trend", "--report", "sessions.db", code=1)
    assert "database file" in line


def test_report_beside_a_server_database_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", *SHORT_RANGE, "--report", "atb.db")
    assert result.code == 0, result.err
    assert (tmp_path / "atb.db").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_a_failure_while_writing_the_report_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(report: object, path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(entrypoints.reports, "write_html_report", full_disk)  # the CLI imports it when it writes
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", *SHORT_RANGE, "--report", "x.html")
    line = assert_one_error_line(result, 1)
    assert "x.html" in line and "No space left on device" in line and "unexpected" not in line


# ---------------------------------------------------------------------------------------------------------------
# A group without a subcommand: its help, exit 0


@pytest.mark.parametrize("group", [(), ("models",), ("sessions",), ("db",), ("data",), ("strategies",)])
def test_a_group_without_a_subcommand_prints_its_help(
    capsys: pytest.CaptureFixture[str], group: tuple[str, ...]
) -> None:
    result = run_main(capsys, *group)
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out.startswith(f"Usage: {' '.join(('atb', *group))} [OPTIONS] COMMAND")
    assert "Commands:" in result.out and "error:" not in result.out
    assert len(result.out.splitlines()) > 5


def test_atb_alone_prints_its_help_as_subprocess(tmp_path: Path) -> None:
    result = run_atb(tmp_path)
    assert result.code == 0 and result.err == ""
    assert result.out.startswith("Usage: atb [OPTIONS] COMMAND") and "backtest" in result.out


# ---------------------------------------------------------------------------------------------------------------
# A run with no trade says why


def no_trade_note(result: Result) -> str:
    assert result.code == 0, result.err
    report: dict[str, Any] = result.json()
    assert report["trades"] == []
    notes = [n for n in report["notes"] if n.startswith("no trade")]
    assert len(notes) == 1, report["notes"]
    return str(notes[0])


def test_no_trade_because_the_warm_up_is_longer_than_the_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_atb_csv(tmp_path / "ETHUSDT-1h.csv", bundled("ETHUSDT"), 29)
    warmup = create_strategy("ema_trend").warmup
    assert warmup > 29
    note = no_trade_note(run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(path), "--json"))
    assert "29 bars" in note and f"{warmup} bars" in note and "warm up" in note


def test_no_trade_when_the_range_starts_after_the_last_signal(capsys: pytest.CaptureFixture[str]) -> None:
    btc = bundled("BTCUSDT")
    last_day = datetime.fromtimestamp(int(btc.time[-1]) / 1000, UTC).strftime("%Y-%m-%d")
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--start", last_day, "--json")
    note = no_trade_note(result)
    assert "no entry signal" in note
    named = re.search(r"the last one came at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", note)
    assert named is not None, note
    when = int(datetime.strptime(named[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp() * 1000)
    assert when < day_ms(last_day)
    btc.index(when)  # a bar of the data


def test_no_trade_when_the_strategy_never_signals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    n = 600
    times = 1_600_000_000_000 // HOUR_MS * HOUR_MS + HOUR_MS * np.arange(n)
    close = 100.0 * 0.999 ** np.arange(n)  # a steady fall: a trend follower never goes long
    lines = [
        f"{t},{c * 1.0005:.6f},{c * 1.001:.6f},{c * 0.999:.6f},{c:.6f},10" for t, c in zip(times, close, strict=True)
    ]
    path = tmp_path / "FALLUSDT-1h.csv"
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    note = no_trade_note(run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(path), "--json"))
    warmup = create_strategy("ema_trend").warmup
    assert f"ema_trend gave no entry signal after its {warmup}-bar warm-up" in note and "last one" not in note


def test_no_trade_when_every_entry_is_refused_names_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    from adapters.files import BundledInstruments
    from domain.model.symbols import Symbol

    # 1.05 x the exchange minimum clears it, but not once the position cap (half the equity) applies.
    minimum = BundledInstruments().instrument(Symbol.parse("BTCUSDT")).instrument.min_notional
    balance = f"{minimum * 105 / 100:f}"
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--balance", balance, "--start", "2020-01-01",
                      "--json")  # fmt: skip
    note = no_trade_note(result)
    denied = [d for d in result.json()["denials"] if d["action"] == "denied"]
    assert denied and all("minimum order" in d["reason"] for d in denied)
    assert f"{len(denied)} entry signals was refused" in note
    assert f"below the exchange minimum order x{len(denied)}" in note


def test_a_run_with_trades_has_no_no_trade_note(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--start", "2020-01-01", "--json")
    report = json.loads(result.out)
    assert report["trades"]
    assert not any(n.startswith("no trade") for n in report["notes"])


def test_the_human_report_prints_the_no_trade_note(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_atb_csv(tmp_path / "ETHUSDT-1h.csv", bundled("ETHUSDT"), 29)
    report = tmp_path / "report.html"
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(path), "--report", str(report))
    assert result.code == 0
    assert "no trade" in result.out
    assert "no trade: ETHUSDT has 29 bars" in report.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# Repeated --data: a portfolio of files


def write_until(path: Path, symbol: str, end_ms: int) -> Path:
    bars = bundled(symbol)
    n = int(np.searchsorted(bars.time, end_ms))
    return write_atb_csv(path, bars, n)


def test_a_portfolio_of_files_equals_the_bundled_portfolio(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    end = "2019-01-01"
    btc = write_until(tmp_path / "BTCUSDT-1h.csv", "BTCUSDT", day_ms(end))
    eth = write_until(tmp_path / "ETHUSDT-1h.csv", "ETHUSDT", day_ms(end))
    files = run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(btc), "--data", str(eth), "--json")
    assert files.code == 0, files.err
    bundled_run = run_main(capsys, "backtest", "--strategy", "ema_trend", "--symbol", "BTCUSDT", "--symbol", "ETHUSDT",
                           "--end", end, "--json")  # fmt: skip
    a, b = files.json(), bundled_run.json()
    assert a["config"]["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert {t["symbol"] for t in a["trades"]} == {"BTCUSDT", "ETHUSDT"}
    assert a["trades"] == b["trades"]
    assert a["metrics"] == b["metrics"]


def test_a_portfolio_of_files_pairs_symbols_in_order(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = write_atb_csv(tmp_path / "a.csv", bundled("BTCUSDT"), 400)
    b = write_atb_csv(tmp_path / "b.csv", bundled("ETHUSDT"), 400)
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(a), "--data", str(b),
                      "--symbol", "BTCUSDT", "--symbol", "ETHUSDT", "--json")  # fmt: skip
    assert result.code == 0, result.err
    assert result.json()["config"]["symbols"] == ["BTCUSDT", "ETHUSDT"]
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(a),
                                          "--data", str(b), "--symbol", "BTCUSDT"), 2)  # fmt: skip
    assert "one --symbol per file" in line


def test_two_files_of_one_symbol_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = write_atb_csv(tmp_path / "ETHUSDT-1h.csv", bundled("ETHUSDT"), 300)
    b = write_atb_csv(tmp_path / "ETHUSDT-copy.csv", bundled("ETHUSDT"), 300)
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend", "--data", str(a),
                                          "--data", str(b)), 1)  # fmt: skip
    assert "both hold ETHUSDT" in line
