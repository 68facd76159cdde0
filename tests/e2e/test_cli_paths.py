"""Confined paths, end to end (ADR 0015): every command that turns a name into a path refuses traversal in one
line, before any work, and a victim folder laid out beside the model registry stays untouched."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.registry import bundled_models_root
from application.names import SESSION_ID_MAX
from tests.e2e.test_cli import assert_one_error_line, run_main

BUNDLED_VERSION = next((bundled_models_root() / "BTCUSDT" / "basic").glob("20*"))

# Names a user (or an attacker) may give where atb builds a path from it.
HOSTILE = ["..", "../x", "/abs", "a/b", "%2e%2e", "a\x00b", "a\nb", "x" * 300, ".", ".hidden", "../../../basic/VICTIM",
           "latest", "history.jsonl", "\\..\\x"]  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` but the registry itself and the database: a file's bytes, None for a folder."""
    found: dict[str, bytes | None] = {}
    for current, dirs, files in os.walk(folder):
        rel = os.path.relpath(current, folder)
        if rel == "models" or rel.startswith("models" + os.sep):
            continue
        for name in dirs:
            found[os.path.join(rel, name)] = None
        for name in files:
            if not name.startswith("atb.db"):
                found[os.path.join(rel, name)] = (Path(current) / name).read_bytes()
    return found


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tmp/data`` with the user's registry in ``data/models`` and a victim model laid out as the registry's own
    one level up (``data/basic/VICTIM``: where ``..`` as the symbol leads); fails the test if anything outside the
    registry changed."""
    folder = tmp_path / "data"
    (folder / "models").mkdir(parents=True)
    shutil.copytree(BUNDLED_VERSION, folder / "basic" / "VICTIM")
    (folder / "elsewhere").mkdir()
    (folder / "elsewhere" / "precious.txt").write_text("precious\n")
    monkeypatch.setenv("ATB_DATA_DIR", str(folder))
    monkeypatch.setenv("ATB_MODELS_DIR", str(folder / "models"))
    before = snapshot(folder)
    yield folder
    assert snapshot(folder) == before, "something outside the registry changed"


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    started = time.perf_counter()
    result = run_main(capsys, *args)
    line = assert_one_error_line(result)
    assert result.code in (1, 2), result.err
    assert "unexpected" not in line and "Traceback" not in result.err
    assert time.perf_counter() - started < 5, "the error came late: it should come before any work"
    return line


@pytest.mark.parametrize("name", [n for n in HOSTILE if n != "latest"])  # LATEST is a fine symbol name
def test_models_commands_refuse_a_hostile_symbol(capsys: pytest.CaptureFixture[str], data: Path, name: str) -> None:
    for args in (("show", name, "basic"), ("show", name, "basic", "VICTIM"), ("promote", name, "basic", "VICTIM"),
                 ("promote", name, "basic", "VICTIM", "--force"), ("rollback", name, "basic"),
                 ("delete", name, "basic", "VICTIM"), ("list", "--symbol", name)):  # fmt: skip
        line = refused(capsys, "models", *args)
        assert "invalid symbol" in line, line


@pytest.mark.parametrize("name", HOSTILE)
def test_models_commands_refuse_a_hostile_version(capsys: pytest.CaptureFixture[str], data: Path, name: str) -> None:
    for args in (("show", "BTCUSDT", "basic", name), ("promote", "BTCUSDT", "basic", name, "--force"),
                 ("delete", "BTCUSDT", "basic", name)):  # fmt: skip
        line = refused(capsys, "models", *args)
        assert "invalid version" in line, line


@pytest.mark.parametrize("name", ["..", "../x", "/abs", "basic/../basic"])
def test_models_commands_refuse_a_hostile_type(capsys: pytest.CaptureFixture[str], data: Path, name: str) -> None:
    for args in (("show", "BTCUSDT", name), ("rollback", "BTCUSDT", name), ("delete", "BTCUSDT", name, "VICTIM")):
        assert refused(capsys, "models", *args)


def test_the_reported_delete_no_longer_leaves_the_registry(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    line = refused(capsys, "models", "delete", "..", "basic", "VICTIM")
    assert line == "error: invalid symbol '..': use upper-case letters and digits, e.g. BTCUSDT"
    assert (data / "basic" / "VICTIM" / "model.onnx").is_file()
    assert not (data / "basic" / "history.jsonl").exists()


def test_a_version_linked_outside_the_registry_is_refused(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    base = data / "models" / "BTCUSDT" / "basic"
    base.mkdir(parents=True)
    (base / "2026-01-01_00h_v9").symlink_to(data / "basic" / "VICTIM", target_is_directory=True)
    for args in (("show", "BTCUSDT", "basic", "2026-01-01_00h_v9"),
                 ("promote", "BTCUSDT", "basic", "2026-01-01_00h_v9", "--force"),
                 ("delete", "BTCUSDT", "basic", "2026-01-01_00h_v9"), ("list",)):  # fmt: skip
        line = refused(capsys, "models", *args)
        assert "leads outside" in line and str(data / "basic" / "VICTIM") in line, line
    assert (base / "2026-01-01_00h_v9").is_symlink()


def test_a_symbol_folder_linked_outside_the_registry_is_refused(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    (data / "models" / "ETHUSDT").symlink_to(data, target_is_directory=True)  # ETHUSDT/basic/VICTIM -> the victim
    for args in (("show", "ETHUSDT", "basic", "VICTIM"), ("promote", "ETHUSDT", "basic", "VICTIM", "--force"),
                 ("rollback", "ETHUSDT", "basic"), ("delete", "ETHUSDT", "basic", "VICTIM")):  # fmt: skip
        assert "leads outside" in refused(capsys, "models", *args)


@pytest.mark.parametrize(
    "args",
    [
        ("backtest", "--strategy", "ml_basic", "--model-version", "../../../basic/VICTIM"),
        ("backtest", "--strategy", "ml_basic", "--model-version", ".."),
        ("backtest", "--strategy", "ml_basic", "--symbol", "../x"),
        ("backtest", "--strategy", "../x"),
        ("backtest", "--strategy", "/abs"),
        ("backtest", "compare", "../x", "ema_trend"),
        ("backtest", "compare", "ema_trend", "../../basic/VICTIM"),
        ("train", "--symbol", "../x"),
    ],
)
def test_backtest_and_train_refuse_hostile_names(
    capsys: pytest.CaptureFixture[str], data: Path, args: tuple[str, ...]
) -> None:
    refused(capsys, *args)


@pytest.mark.parametrize("version", ["../x", "..", "/abs", "latest", "a/b", "x" * 65])
def test_train_refuses_a_hostile_version_before_any_work(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """Refused before the settings, the container, the data or TensorFlow: nothing is built, nothing created."""
    import entrypoints.cli.models as models_cli

    def no_work(*args: object) -> None:
        raise AssertionError("atb train built its container: the name should have been refused before any work")

    monkeypatch.setattr(models_cli, "models_container", no_work)
    monkeypatch.setenv("ATB_MODELS_DIR", str(tmp_path / "fresh-models"))
    line = refused(capsys, "train", "--version", version, "--epochs", "1")
    assert line.startswith("error: invalid version")
    assert not (tmp_path / "fresh-models").exists()
    assert not (tmp_path / "x").exists() and not (data / "x").exists()


@pytest.mark.parametrize(
    "session_id", [str(SESSION_ID_MAX + 1), "9" * 30, "-1", "0", "abc", "1e3", "0x10", "１", "1.0", "", "../1"]
)
def test_sessions_refuse_an_id_that_is_not_a_64_bit_key(
    capsys: pytest.CaptureFixture[str], data: Path, session_id: str
) -> None:
    for args in (("show", session_id), ("delete", "--yes", session_id)):
        result = run_main(capsys, "sessions", *args[:-1], "--", session_id)  # "--": "-1" is an id, not an option
        line = assert_one_error_line(result, 2)
        assert "session id is a whole number from 1 to" in line or "SESSION_ID" in line, line


def test_the_largest_session_id_is_looked_up(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert run_main(capsys, "db", "upgrade").code == 0
    line = assert_one_error_line(run_main(capsys, "sessions", "show", str(SESSION_ID_MAX)), 1)
    assert line == f"error: no session {SESSION_ID_MAX}"


@pytest.mark.parametrize("version", ["../../../basic/VICTIM", "..", "latest", "a/b"])
def test_a_hostile_model_version_is_refused_before_any_data_is_read(
    capsys: pytest.CaptureFixture[str], data: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    from application.use_cases import run_backtest

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the backtest ran: the version should have been refused before it")

    monkeypatch.setattr(run_backtest.RunBacktest, "__call__", no_work)
    line = refused(capsys, "backtest", "--strategy", "ml_basic", "--model-version", version)
    assert line.startswith("error: invalid version")
