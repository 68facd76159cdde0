"""`--data` under the caps of ADR 0014, through the installed `atb`: a gzip bomb, a file over the row or byte
cap, a trailing non-breaking space; each is one line on stderr and exit 1 (never 70), or a normal run."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli import ATB, Result, assert_one_error_line, bundled, clean_env, write_atb_csv


def atb(cwd: Path, *args: str, **env: str) -> Result:
    proc = subprocess.run(
        [str(ATB), *args], cwd=cwd, env={**clean_env(), **env}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    return Result(proc.returncode, proc.stdout, proc.stderr)


def backtest(cwd: Path, path: Path, *extra: str, **env: str) -> Result:
    return atb(cwd, "backtest", "--strategy", "ema_trend", "--data", str(path), *extra, **env)


def test_a_gzip_bomb_is_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "BTCUSDT-1h.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        for _ in range(64):
            f.write(bytes(1 << 20))
    line = assert_one_error_line(backtest(tmp_path, bomb), 1)
    assert str(bomb) in line and "line 1" in line


@pytest.mark.parametrize(
    ("setting", "value"), [("ATB_MAX_DATA_ROWS", "399"), ("ATB_MAX_DATA_BYTES", "10000")]
)
def test_the_caps_are_settings_named_in_the_error(tmp_path: Path, setting: str, value: str) -> None:
    path = write_atb_csv(tmp_path / "BTCUSDT-1h.csv", bundled("BTCUSDT"), 400)
    assert path.stat().st_size > 10_000
    line = assert_one_error_line(backtest(tmp_path, path, **{setting: value}), 1)
    assert str(path) in line and setting in line and f"{int(value):,}" in line
    # The same cap through `atb regime`, which reads --data too.
    line = assert_one_error_line(atb(tmp_path, "regime", "--data", str(path), **{setting: value}), 1)
    assert setting in line
    # Raised to the file's size, the run goes through.
    enough = {"ATB_MAX_DATA_ROWS": "400", "ATB_MAX_DATA_BYTES": str(path.stat().st_size)}[setting]
    result = backtest(tmp_path, path, "--json", **{setting: enough})
    assert result.code == 0, result.err


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_cap_that_is_not_a_positive_integer_is_refused(tmp_path: Path, value: str) -> None:
    path = write_atb_csv(tmp_path / "BTCUSDT-1h.csv", bundled("BTCUSDT"), 400)
    line = assert_one_error_line(backtest(tmp_path, path, ATB_MAX_DATA_ROWS=value))
    assert "max_data_rows" in line


def test_a_trailing_non_breaking_space_line_is_ignored(tmp_path: Path) -> None:
    path = write_atb_csv(tmp_path / "BTCUSDT-1h.csv", bundled("BTCUSDT"), 400)
    path.write_text(path.read_text() + "\u00a0\n")
    result = backtest(tmp_path, path, "--json")
    assert result.code == 0, result.err
    assert result.json()["data"]["bars"] == 400


def test_a_file_larger_than_the_byte_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "BTCUSDT-1m.csv"
    with big.open("wb") as f:  # sparse: 3 GiB by its size, nothing on disk
        f.write(b"open_time_ms,open,high,low,close,volume\n")
        f.truncate(3 << 30)
    line = assert_one_error_line(backtest(tmp_path, big), 1)
    assert str(big) in line and "ATB_MAX_DATA_BYTES" in line and "2 GiB" in line
