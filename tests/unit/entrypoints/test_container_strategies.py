"""The strategies setting and its wiring: ATB_STRATEGIES_DIR (default <data dir>/strategies), the container's
user-strategy source and the catalog RunBacktest gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.strategies import DirectoryStrategies
from domain.strategies.registry import USER, builtin_catalog
from entrypoints.cli.common import container_settings
from entrypoints.container import build_container
from entrypoints.settings import SettingsError, load_settings
from tests.user_strategy_files import write_strategies


def test_the_strategies_dir_defaults_to_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings(env_file=None)
    assert settings.strategies_dir is None and settings.strategies_root() == tmp_path / "data" / "strategies"
    monkeypatch.setenv("ATB_STRATEGIES_DIR", str(tmp_path / "mine"))
    named = load_settings(env_file=None)
    assert named.strategies_root() == tmp_path / "mine"
    wired = container_settings(named)
    assert (wired["strategies_dir"], wired["strategies_dir_required"]) == (str(tmp_path / "mine"), True)


def test_an_empty_strategies_dir_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_STRATEGIES_DIR", " ")
    with pytest.raises(SettingsError, match="strategies_dir"):
        load_settings(env_file=None)


def test_the_container_reads_the_strategies_dir_and_hands_the_catalog_to_backtests(tmp_path: Path) -> None:
    folder = write_strategies(tmp_path / "strategies", broken=[])
    container = build_container({"strategies_dir": str(folder)})
    source = container.user_strategies()
    assert isinstance(source, DirectoryStrategies) and source.directory == folder
    catalog = container.strategies()
    assert catalog.entry("slow_cross").origin == USER and set(builtin_catalog().names()) < set(catalog.names())
    assert container.run_backtest()._strategies is catalog


def test_the_container_takes_the_catalog_the_cli_loaded(tmp_path: Path) -> None:
    given = builtin_catalog().with_entries(())
    container = build_container({"strategies_dir": str(tmp_path / "absent"), "strategy_catalog": given})
    assert container.run_backtest()._strategies is given
    assert build_container({}).strategies().names() == builtin_catalog().names()  # no directory: the built-ins
