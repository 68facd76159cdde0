"""Outputs never clobber inputs (ADR 0015): ``--report`` (and ``compare --report``) is refused, before any work,
onto any file the run reads, whether named directly, through a symlink or through a hard link (compared by device
and inode), and inside the folders atb reads from; a report that is written leaves no temporary file behind."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.registry import bundled_models_root
from application.use_cases import run_backtest
from tests.e2e.test_cli import BUNDLED_DIR, assert_one_error_line, bundled, run_main, write_atb_csv

BUNDLED_VERSION = next((bundled_models_root() / "BTCUSDT" / "basic").glob("20*"))
SHORT = ("--start", "2021-01-01", "--end", "2021-02-01")


@pytest.fixture
def no_backtest(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails the test if a backtest runs: every refusal must come before it."""

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise AssertionError("the backtest ran; the error should have come before it")

    monkeypatch.setattr(run_backtest.RunBacktest, "__call__", refuse)
    yield


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    started = time.perf_counter()
    result = run_main(capsys, *args)
    line = assert_one_error_line(result, 1)
    assert result.out == "" and time.perf_counter() - started < 5
    return line


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "atb-data"
    folder.mkdir()
    monkeypatch.setenv("ATB_DATA_DIR", str(folder))
    return folder


def test_report_onto_the_env_file_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: None, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text("ATB_LOG_LEVEL=WARNING\n")
    line = refused(capsys, "backtest", "--strategy", "ema_trend", "--report", ".env")
    assert "settings file (--env-file)" in line and "overwrite" in line
    (tmp_path / "conf").mkdir()
    custom = tmp_path / "conf" / "atb.env"
    custom.write_text("ATB_LOG_LEVEL=WARNING\n")
    (tmp_path / "link.env").symlink_to(custom)
    line = refused(capsys, "--env-file", str(custom), "backtest", "compare", "ema_trend", "ema_cross",
                   "--report", "link.env")  # fmt: skip
    assert "settings file" in line
    assert env.read_text() == custom.read_text() == "ATB_LOG_LEVEL=WARNING\n"


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
@pytest.mark.parametrize("command", [("backtest", "--strategy", "ema_trend"), ("backtest", "compare", "ema_trend",
                                                                               "ema_cross")])  # fmt: skip
def test_report_onto_a_link_to_the_data_file_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: None, tmp_path: Path, link: str, command: tuple[str, ...]
) -> None:
    data = write_atb_csv(tmp_path / "ETHUSDT-1h.csv", bundled("ETHUSDT"), 300)
    before = data.read_bytes()
    alias = tmp_path / "alias.html"
    if link == "symlink":
        alias.symlink_to(data)
    else:
        os.link(data, alias)
    line = refused(capsys, *command, "--data", str(data), "--report", str(alias))
    assert "--data file" in line
    assert data.read_bytes() == before


def test_report_onto_a_hard_link_of_the_database_or_its_sidecars_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: None, tmp_path: Path, data_dir: Path
) -> None:
    assert run_main(capsys, "db", "upgrade").code == 0
    database = data_dir / "atb.db"
    before = database.read_bytes()
    os.link(database, tmp_path / "innocent.html")
    assert "database file" in refused(capsys, "backtest", "--strategy", "ema_trend", "--report", "innocent.html")
    for sidecar in ("wal", "shm", "journal"):
        line = refused(capsys, "backtest", "--strategy", "ema_trend", "--report", f"{database}-{sidecar}")
        assert f"database's {sidecar} file" in line
    assert database.read_bytes() == before


def test_report_onto_a_database_url_file_through_a_symlink_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db").mkdir()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/db/sessions.db")
    (tmp_path / "db" / "sessions.db").write_bytes(b"SQLite format 3\x00")
    (tmp_path / "s.html").symlink_to(tmp_path / "db" / "sessions.db")
    assert "database file" in refused(capsys, "backtest", "--strategy", "ema_trend", "--report", "s.html")
    assert (tmp_path / "db" / "sessions.db").read_bytes() == b"SQLite format 3\x00"


@pytest.fixture
def user_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's registry holds a copy of the bundled basic model as its latest: ml_basic reads it."""
    root = tmp_path / "models"
    version = root / "BTCUSDT" / "basic" / BUNDLED_VERSION.name
    shutil.copytree(BUNDLED_VERSION, version)
    (root / "BTCUSDT" / "basic" / "latest").write_text(BUNDLED_VERSION.name + "\n")
    monkeypatch.setenv("ATB_MODELS_DIR", str(root))
    return version


@pytest.mark.parametrize("name", ["model.onnx", "metadata.json", "feature_schema.json"])
def test_report_onto_a_hard_link_of_the_ml_models_files_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: None, tmp_path: Path, user_model: Path, name: str
) -> None:
    before = (user_model / name).read_bytes()
    os.link(user_model / name, tmp_path / "report.html")
    line = refused(capsys, "backtest", "--strategy", "ml_basic", "--report", "report.html")
    assert "model registry" in line and "hard link" in line and name in line
    assert (user_model / name).read_bytes() == before


def test_report_inside_the_model_registry_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: None, user_model: Path
) -> None:
    for target in (user_model / "model.onnx", user_model.parent / "latest", user_model.parent / "new.html"):
        line = refused(capsys, "backtest", "--strategy", "ml_basic", "--report", str(target))
        assert "inside the model registry" in line
    bundled_file = BUNDLED_VERSION / "model.onnx"
    line = refused(capsys, "backtest", "--strategy", "ml_basic", "--report", str(bundled_file))
    assert "inside the bundled models" in line
    assert (user_model.parent / "latest").read_text() == BUNDLED_VERSION.name + "\n"


def test_report_onto_the_bundled_fear_and_greed_file_is_refused(
    capsys: pytest.CaptureFixture[str], no_backtest: None, tmp_path: Path
) -> None:
    fear_greed = next(BUNDLED_DIR.glob("fear_greed*"))
    before = fear_greed.read_bytes()
    (tmp_path / "fg.html").symlink_to(fear_greed)
    for target in ("fg.html", str(fear_greed)):
        line = refused(capsys, "backtest", "--strategy", "ml_sentiment", "--report", target)
        assert "inside the bundled data" in line
    assert fear_greed.read_bytes() == before


def test_a_report_replaces_the_previous_one_and_leaves_nothing_else(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "r.html").write_text("previous")
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", *SHORT, "--report", "r.html")
    assert result.code == 0, result.err
    assert (tmp_path / "r.html").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
