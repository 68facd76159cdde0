"""Model settings: the registry root, the promotion margin and the stress windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.settings import SettingsError, load_settings


def test_the_registry_defaults_to_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings(env_file=None)
    assert settings.models_root() == tmp_path / "data" / "models"
    assert settings.promotion_margin == 0.05 and settings.stress_windows == ""


def test_models_dir_margin_and_windows_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ATB_MODELS_DIR", str(tmp_path / "reg"))
    monkeypatch.setenv("ATB_PROMOTION_MARGIN", "0.1")
    monkeypatch.setenv("ATB_STRESS_WINDOWS", "luna=2022-05-01..2022-06-01")
    settings = load_settings(env_file=None)
    assert settings.models_root() == tmp_path / "reg"
    assert settings.promotion_margin == 0.1 and settings.stress_windows.startswith("luna=")


def test_a_negative_margin_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_PROMOTION_MARGIN", "-1")
    with pytest.raises(SettingsError, match="promotion_margin") as caught:
        load_settings(env_file=None)
    assert "\n" not in str(caught.value)
