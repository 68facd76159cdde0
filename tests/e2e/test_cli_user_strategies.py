"""User strategies through ``atb``: ATB_STRATEGIES_DIR, ``--strategy path.py:Class``, the one-line errors,
``atb strategies list`` / ``show`` / ``new``, and a template from ``new`` through its tests to a backtest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from domain.strategies.registry import builtin_catalog
from tests.e2e.test_cli import assert_one_error_line, clean_env, run_atb, run_main
from tests.user_strategy_files import BROKEN, GOOD, Broken, marked_line, write_strategies

START = ("--start", "2021-03-01")  # a short range: these tests are about loading, not trading


@pytest.fixture
def strategies_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = write_strategies(tmp_path / "strategies")
    monkeypatch.setenv("ATB_STRATEGIES_DIR", str(folder))
    return folder


@pytest.mark.parametrize("item", BROKEN, ids=lambda b: b.stem)
def test_running_a_broken_file_fails_with_its_one_line(
    capsys: pytest.CaptureFixture[str], strategies_dir: Path, item: Broken
) -> None:
    # the clash files declare a name another strategy holds: they are named by their file
    name = item.stem
    result = run_main(capsys, "backtest", "--strategy", name, *START)
    line = assert_one_error_line(result, code=1)
    assert line.startswith(f"error: {strategies_dir / (item.stem + '.py')}:{marked_line(item.text)}: {item.says}")
    assert result.out == ""


def test_a_broken_file_does_not_stop_the_others(capsys: pytest.CaptureFixture[str], strategies_dir: Path) -> None:
    builtin = run_main(capsys, "backtest", "--strategy", "ema_trend", *START, "--json")
    assert builtin.code == 0, builtin.err
    assert json.loads(builtin.out)["strategy"]["name"] == "ema_trend"
    warnings = builtin.err.strip().splitlines()
    assert len(warnings) == len(BROKEN) and all(w.startswith("warning: skipped ") for w in warnings)
    mine = run_main(capsys, "backtest", "--strategy", "slow_cross", *START, "--param", "fast=8", "--json")
    assert mine.code == 0, mine.err
    report = json.loads(mine.out)
    assert report["strategy"]["name"] == "slow_cross" and report["strategy"]["params"] == {"fast": 8, "slow": 30}


def test_list_shows_built_in_and_user_strategies_apart_and_the_broken_files(
    capsys: pytest.CaptureFixture[str], strategies_dir: Path
) -> None:
    result = run_main(capsys, "strategies", "list", "--json")
    assert result.code == 0, result.err
    rows = {row["name"]: row for row in json.loads(result.out)}
    assert {n for n, r in rows.items() if r["origin"] == "built-in"} == set(builtin_catalog().names())
    assert all(rows[n]["source"] == "" for n in builtin_catalog().names())
    assert rows["slow_cross"] == {"name": "slow_cross", "version": "1.2.0", "origin": "user",
                                  "description": "EMA crossover for the loader tests",
                                  "source": str(strategies_dir / "good.py")}  # fmt: skip
    for item in BROKEN:
        row = rows[item.stem]
        assert row["origin"] == "user" and row["source"] == str(strategies_dir / f"{item.stem}.py")
        assert row["error"].startswith(f"{row['source']}:{marked_line(item.text)}: {item.says}")
    table = run_main(capsys, "strategies", "list")
    assert table.code == 0, table.err
    slow = next(line for line in table.out.splitlines() if "slow_cross" in line)
    assert "user" in slow and "good.py" in table.out  # a long path is folded over lines, never cut
    assert "built-in" in next(line for line in table.out.splitlines() if "ema_cross" in line)
    assert "not loaded" in next(line for line in table.out.splitlines() if "no_default" in line)


def test_a_strategy_by_path_runs_and_shows(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "mine.py"
    path.parent.mkdir()
    path.write_text(GOOD)
    result = run_main(capsys, "backtest", "--strategy", f"{path}:SlowCross", *START, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["strategy"]["name"] == "slow_cross"
    shown = run_main(capsys, "strategies", "show", f"{path}:SlowCross", "--param", "slow=40", "--json")
    assert shown.code == 0, shown.err
    described = json.loads(shown.out)
    assert (described["origin"], described["source"], described["warmup_bars"]) == ("user", str(path), 40)
    assert {row["name"]: row["value"] for row in described["parameters"]} == {"fast": 10, "slow": 40}
    missing = run_main(capsys, "backtest", "--strategy", f"{path}:Nope", *START)
    assert assert_one_error_line(missing, code=1) == (
        f"error: {path}:1: no class Nope in this file (strategy classes: SlowCross)"
    )
    climbing = run_main(capsys, "backtest", "--strategy", "../mine.py:SlowCross")
    assert "without '..'" in assert_one_error_line(climbing, code=1)


def test_a_path_clashing_with_a_built_in_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    item = next(b for b in BROKEN if b.stem == "clash_builtin")
    path = tmp_path / "clash.py"
    path.write_text(item.text)
    result = run_main(capsys, "backtest", "--strategy", f"{path}:Mine", *START)
    assert assert_one_error_line(result, code=1).startswith(f"error: {path}:{marked_line(item.text)}: {item.says}")


def test_compare_takes_user_strategies_on_either_side(
    capsys: pytest.CaptureFixture[str], strategies_dir: Path, tmp_path: Path
) -> None:
    result = run_main(capsys, "backtest", "compare", "slow_cross", "ema_cross", *START, "--json")
    assert result.code == 0, result.err
    assert [s["strategy"] for s in json.loads(result.out)["sides"]] == ["slow_cross", "ema_cross"]
    broken = run_main(capsys, "backtest", "compare", "ema_cross", "no_default", *START)
    assert "no_default.py" in assert_one_error_line(broken, code=1)


def test_an_unknown_name_is_a_usage_error_listing_user_strategies_too(
    capsys: pytest.CaptureFixture[str], strategies_dir: Path
) -> None:
    result = run_main(capsys, "backtest", "--strategy", "moonshot")
    line = assert_one_error_line(result, code=2)
    assert "slow_cross" in line and "ema_trend" in line and "path/to/file.py:ClassName" in line


def test_the_strategies_directory_setting(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))  # the default <data dir>/strategies is missing
    assert run_main(capsys, "strategies", "list").code == 0
    write_strategies(tmp_path / "data" / "strategies", broken=[])
    listed = json.loads(run_main(capsys, "strategies", "list", "--json").out)
    assert "slow_cross" in {row["name"] for row in listed}
    monkeypatch.setenv("ATB_STRATEGIES_DIR", str(tmp_path / "absent"))
    line = assert_one_error_line(run_main(capsys, "strategies", "list"), code=1)
    assert line == f"error: strategies directory {tmp_path / 'absent'} (ATB_STRATEGIES_DIR) does not exist"


def test_new_refuses_bad_names_built_ins_and_existing_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    for name in ("My-Cross", "9lives", "../up", "a" * 49):
        assert "lowercase letters" in assert_one_error_line(run_main(capsys, "strategies", "new", name,
                                                                     "--dir", str(folder)), code=2)  # fmt: skip
    assert "built-in" in assert_one_error_line(run_main(capsys, "strategies", "new", "ema_cross"), code=2)
    assert not folder.exists()
    assert run_main(capsys, "strategies", "new", "trend_one", "--dir", str(folder)).code == 0
    (folder / "trend_one.py").write_text("# mine\n")
    again = run_main(capsys, "strategies", "new", "trend_one", "--dir", str(folder))
    refused = assert_one_error_line(again, code=1)
    assert refused == f"error: {folder / 'trend_one.py'} exists; use --force to overwrite it"
    assert (folder / "trend_one.py").read_text() == "# mine\n"
    assert run_main(capsys, "strategies", "new", "trend_one", "--dir", str(folder), "--force").code == 0
    assert "class TrendOne(Strategy)" in (folder / "trend_one.py").read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["test_trend_one.py", "trend_one.py"]  # no temporary left


def test_new_then_its_tests_then_a_backtest(tmp_path: Path) -> None:
    """The template end to end, through the installed script: `new` -> pytest on its test file -> `check` ->
    backtest."""
    data = tmp_path / "data"
    env = {**clean_env(), "ATB_DATA_DIR": str(data)}
    made = subprocess.run([str(Path(sys.executable).with_name("atb")), "strategies", "new", "my_cross"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert made.returncode == 0, made.stderr
    folder = data / "strategies"
    assert (folder / "my_cross.py").is_file() and (folder / "test_my_cross.py").is_file()
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder), str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout
    listed = subprocess.run([str(Path(sys.executable).with_name("atb")), "strategies", "list", "--json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "my_cross")
    assert (row["origin"], row["source"]) == ("user", str(folder / "my_cross.py"))
    atb = str(Path(sys.executable).with_name("atb"))
    checked = subprocess.run([atb, "strategies", "check", "my_cross", "--json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verdict = json.loads(checked.stdout)
    assert verdict["passed"] is True
    assert verdict["source"] == str(folder / "my_cross.py")
    run = subprocess.run([str(Path(sys.executable).with_name("atb")), "backtest", "--strategy", "my_cross",
                          "--start", "2020-01-01", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["strategy"]["name"] == "my_cross" and report["metrics"]["trades"] > 0
    assert not any(note.startswith("LOOK-AHEAD") for note in report["notes"])  # checked, not --unchecked
    assert list((data / "checks").glob("*.json"))  # the backtest's fast checks, cached by the file's hash


def test_a_template_that_peeks_ahead_fails_its_own_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The generated test can fail: make the template read tomorrow's close and it does."""
    folder = tmp_path / "s"
    assert run_main(capsys, "strategies", "new", "peeky", "--dir", str(folder)).code == 0
    source = (folder / "peeky.py").read_text()
    leaky = source.replace("close = candles.close\n", "close = np.roll(candles.close, -1)  # tomorrow's close\n")
    assert leaky != source
    (folder / "peeky.py").write_text(leaky)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "--rootdir", str(folder), str(folder)],
        cwd=folder, env=clean_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert tests.returncode == 1, tests.stdout
    assert "FAILED test_peeky.py::test_it_never_looks_ahead" in tests.stdout


def test_the_installed_script_prints_no_traceback_for_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("from domain.strategies.api import Strategy\n\nclass A(Strategy:\n    pass\n")
    result = run_atb(tmp_path, "backtest", "--strategy", f"{path}:A")
    assert assert_one_error_line(result, code=1).startswith(f"error: {path}:3: syntax error:")


def test_an_exception_in_a_user_strategys_signals_is_its_line_not_a_bug(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "fails.py"
    path.write_text(GOOD.replace("close = candles.close\n", "close = candles.close * int('x')  # <- here\n"))
    result = run_main(capsys, "backtest", "--strategy", f"{path}:SlowCross", *START)
    line = assert_one_error_line(result, code=1)
    said = "ValueError: invalid literal for int() with base 10: 'x' (raised by strategy slow_cross "
    # the fast look-ahead checks run the strategy first, so they meet the exception: the same one line
    assert line.startswith(f"error: {path}:{marked_line(path.read_text())}: {said}")
    assert line.endswith(("during the run)", "while checked on BTCUSDT)"))
