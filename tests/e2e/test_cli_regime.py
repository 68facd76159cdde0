"""``atb regime``: the command object through click's CliRunner (with ``ctx.obj`` as the ``cli`` group sets it),
and through the console entry point for the one-line errors.

Bar counts per year come from the bundled file read with gzip/csv (tests.e2e.test_cli.bundled).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import entrypoints.cli.main as cli_main
from domain.regime import REGIMES, RegimeParams
from entrypoints.cli.regime import regime
from entrypoints.settings import load_settings
from tests.e2e.test_cli import (
    assert_one_error_line,
    bundled,
    run_main,
    write_atb_csv,
)

LABELS = [str(r) for r in REGIMES]


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``atb regime`` through ``main``, whether or not main.py registers the command yet."""
    monkeypatch.setitem(cli_main.cli.commands, "regime", regime)
    yield


def invoke(tmp: Path, *args: str) -> Any:
    """The command object, with the ``ctx.obj`` the ``cli`` group would build (no .env in ``tmp``)."""
    env_file = tmp / ".env"
    obj = {"settings": load_settings({}, env_file), "env_file": env_file, "debug": False}
    return CliRunner().invoke(regime, list(args), obj=obj, catch_exceptions=False)


def year_of(ms: np.ndarray) -> np.ndarray:
    return np.asarray(ms).astype("datetime64[ms]").astype("datetime64[Y]").astype(np.int64) + 1970


@pytest.fixture(scope="module")
def btc_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = invoke(tmp_path_factory.mktemp("regime"), "--symbol", "BTCUSDT", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert isinstance(data, dict)
    return data


def test_json_has_one_row_per_year_with_shares_summing_to_one(btc_json: dict[str, Any]) -> None:
    bars = bundled("BTCUSDT")
    warmup = RegimeParams().warmup
    assert btc_json["symbol"] == "BTCUSDT" and btc_json["timeframe"] == "1h"
    assert btc_json["bars"] == len(bars.time) and btc_json["warmup_bars"] == warmup
    assert btc_json["regimes"] == LABELS
    years = year_of(bars.time)
    counted = years[warmup:]
    assert [row["year"] for row in btc_json["years"]] == sorted(set(counted.tolist()))
    for row in btc_json["years"]:
        assert row["bars"] == int((counted == row["year"]).sum())
        assert list(row["shares"]) == LABELS
        assert sum(row["shares"].values()) == pytest.approx(1.0)
        assert all(0.0 <= s <= 1.0 for s in row["shares"].values())
    total = btc_json["all"]
    assert total["bars"] == len(bars.time) - warmup == sum(r["bars"] for r in btc_json["years"])
    for label in LABELS:  # the overall share is the bar-weighted mean of the yearly shares
        weighted = sum(r["shares"][label] * r["bars"] for r in btc_json["years"]) / total["bars"]
        assert total["shares"][label] == pytest.approx(weighted)


def test_a_range_counts_only_its_bars_and_keeps_the_years_row(btc_json: dict[str, Any], tmp_path: Path) -> None:
    result = invoke(tmp_path, "--symbol", "BTCUSDT", "--start", "2019-01-01", "--end", "2020-01-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["start"] == "2019-01-01T00:00:00Z" and data["end"] == "2020-01-01T00:00:00Z"
    assert data["warmup_bars"] == 0  # the detector warmed up on the bars before --start
    assert [row["year"] for row in data["years"]] == [2019]
    full_2019 = next(row for row in btc_json["years"] if row["year"] == 2019)
    assert data["years"][0] == full_2019


def test_the_table_shows_years_by_regimes_in_percent(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--symbol", "ETHUSDT", "--start", "2020-01-01")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "ETHUSDT" in lines[0] and "1h" in lines[0]
    header = next(line for line in lines if "Year" in line)
    positions = [header.index(label) for label in LABELS]
    assert positions == sorted(positions)
    rows = {line.split()[1]: line for line in lines if line.startswith("│")}
    assert set(rows) == {"2020", "2021", "all"}
    for line in rows.values():
        cells = [c.strip() for c in line.strip("│").split("│")]
        percents = [float(c.rstrip("%")) for c in cells[2:]]
        assert len(percents) == 6 and all(c.endswith("%") for c in cells[2:])
        assert sum(percents) == pytest.approx(100.0, abs=0.5)


def test_a_data_file_takes_its_symbol_from_the_file(tmp_path: Path) -> None:
    n = RegimeParams().warmup + 500
    path = write_atb_csv(tmp_path / "BTCUSDT-1h.csv", bundled("BTCUSDT"), n)
    result = invoke(tmp_path, "--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["symbol"] == "BTCUSDT" and data["bars"] == n and data["all"]["bars"] == 500
    end = datetime.fromtimestamp(int(bundled("BTCUSDT").time[n - 1]) / 1000 + 3600, UTC)
    assert data["end"] == end.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_main_lists_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "--help")
    assert result.code == 0 and "regime" in result.out


# ---------------------------------------------------------------------------------------------------------------
# Errors: one line, through the console entry point


def test_an_unknown_symbol_names_the_available_ones(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(run_main(capsys, "regime", "--symbol", "DOGEUSDT"), code=1)
    assert "DOGEUSDT" in line and "BTCUSDT" in line and "ETHUSDT" in line


def test_too_little_data_for_the_warm_up_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_atb_csv(tmp_path / "short.csv", bundled("BTCUSDT"), 300)
    line = assert_one_error_line(run_main(capsys, "regime", "--data", str(path), "--symbol", "BTCUSDT"), code=1)
    assert "warm-up" in line and str(RegimeParams().warmup) in line


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--start", "someday"), 2, "not a date"),
        (("--start", "2020-01-01", "--end", "2019-01-01"), 1, "before the end"),
        (("--start", "2030-01-01"), 1, "range"),
        (("--timeframe", "7h"), 1, "unknown timeframe"),
    ],
)
def test_bad_options_are_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, words: str
) -> None:
    line = assert_one_error_line(run_main(capsys, "regime", *args), code=code)
    assert words in line
