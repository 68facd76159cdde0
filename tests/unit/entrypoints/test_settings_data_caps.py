"""The caps on `--data` files (ADR 0014): settings with documented defaults, passed by the container."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.files.csv_market_data import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS
from application.ports.errors import MarketDataUnavailable
from entrypoints.cli.common import container_settings
from entrypoints.container import build_container
from entrypoints.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_defaults_are_the_readers_and_the_documented_ones() -> None:
    settings = load_settings(env_file=None)
    assert (settings.max_data_bytes, settings.max_data_rows) == (DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS)
    assert settings.max_data_bytes == 2 * 1024**3 and settings.max_data_rows == 20_000_000
    table = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("|")]
    row = next(line for line in table if "ATB_MAX_DATA_ROWS" in line)
    assert str(settings.max_data_bytes) in row and str(settings.max_data_rows) in row


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_MAX_DATA_BYTES", "1000")
    monkeypatch.setenv("ATB_MAX_DATA_ROWS", "7")
    settings = load_settings(env_file=None)
    assert (settings.max_data_bytes, settings.max_data_rows) == (1000, 7)


@pytest.mark.parametrize("name", ["ATB_MAX_DATA_BYTES", "ATB_MAX_DATA_ROWS"])
@pytest.mark.parametrize("value", ["0", "-1", "2GB", "1.5"])
def test_a_cap_must_be_a_positive_integer(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    assert name.removeprefix("ATB_").lower() in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("source", ["file", "files"])
def test_the_container_passes_the_caps_to_the_file_reader(tmp_path: Path, source: str) -> None:
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text(
        "open_time_ms,open,high,low,close,volume\n"
        + "".join(f"{1_704_067_200_000 + i * 3_600_000},10,11,9,10.5,1\n" for i in range(5))
    )
    settings = load_settings(env_file=None)
    config = {"data_source": source, "data_file": str(path), "data_files": [str(path)], "data_timeframe": None}
    caps = container_settings(settings)
    assert build_container({**config, **caps}).market_data().datasets()[0].bars == 5
    with pytest.raises(MarketDataUnavailable, match="ATB_MAX_DATA_ROWS"):
        build_container({**config, **caps, "max_data_rows": 4}).market_data().datasets()
    with pytest.raises(MarketDataUnavailable, match="ATB_MAX_DATA_BYTES"):
        build_container({**config, **caps, "max_data_bytes": 50}).market_data().datasets()
