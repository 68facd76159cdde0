"""The database's revision is checked before the work: `atb backtest --save` and `atb sessions` against a
database without atb tables, at an older revision or at one this atb does not know, fail in one line before
anything runs; `atb db current` says which of these it is (SQLite in the data directory, in-process)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.e2e.test_cli import Result, assert_one_error_line, run_main

ROOT = Path(__file__).resolve().parents[2]
BACKTEST = ("backtest", "--strategy", "ema_cross", "--start", "2021-01-01", "--end", "2021-03-01")
UNKNOWN = "feedfacecafe"


def _revisions() -> list[str]:
    """The repository's revisions, oldest first, read by Alembic from migrations/ (not through atb)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]


def _first_tables(data_dir: Path) -> str:
    """The first three tables of the database by name, read with sqlite3 (not through atb)."""
    with sqlite3.connect(data_dir / "atb.db") as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return ", ".join(names[:3])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _prepare(state: str, capsys: pytest.CaptureFixture[str], data_dir: Path) -> str:
    """A database in ``state``; returns what the error line must say."""
    revisions = _revisions()
    head = revisions[-1]
    if state == "empty":
        return "the database has no atb tables: run `atb db upgrade`"
    if state == "behind":
        assert len(revisions) >= 2, "needs two revisions"
        assert run_main(capsys, "db", "upgrade", revisions[-2]).code == 0
        return f"the database is at revision {revisions[-2]}, atb needs {head}: run `atb db upgrade`"
    assert run_main(capsys, "db", "upgrade").code == 0
    if state == "untracked":  # tables made by hand, or the version table dropped
        with sqlite3.connect(data_dir / "atb.db") as conn:
            conn.execute("DROP TABLE alembic_version")
        return f"the database has atb tables ({_first_tables(data_dir)}, ...) but no alembic_version table"
    with sqlite3.connect(data_dir / "atb.db") as conn:  # as a newer atb would have left it
        conn.execute("UPDATE alembic_version SET version_num = ?", (UNKNOWN,))
    return f"the database is at an unknown revision {UNKNOWN} (newer atb?)"


def _refused(result: Result, expected: str) -> None:
    line = assert_one_error_line(result, 1)
    assert expected in line and "atb.db" in line
    assert result.out == ""  # nothing ran: no report, no table


@pytest.mark.parametrize("state", ["empty", "behind", "unknown", "untracked"])
def test_save_and_sessions_refuse_before_the_work(
    state: str, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    expected = _prepare(state, capsys, data_dir)
    _refused(run_main(capsys, *BACKTEST, "--save"), expected)
    _refused(run_main(capsys, *BACKTEST, "--save", "--json"), expected)
    _refused(run_main(capsys, "sessions", "list"), expected)
    _refused(run_main(capsys, "sessions", "show", "1"), expected)
    _refused(run_main(capsys, "sessions", "delete", "1", "--yes"), expected)
    ran = run_main(capsys, *BACKTEST)  # without --save the database does not matter
    assert ran.code == 0 and "Total return" in ran.out, ran.err


@pytest.mark.parametrize("state", ["empty", "behind", "unknown", "untracked"])
def test_db_current_says_which(state: str, capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    _prepare(state, capsys, data_dir)
    revisions = _revisions()
    out = run_main(capsys, "db", "current")
    assert out.code == 0, out.err
    said = {
        "empty": f"no atb tables (newest revision {revisions[-1]}); run `atb db upgrade`",
        "behind": f"at revision {revisions[-2]}, newest is {revisions[-1]}; run `atb db upgrade`",
        "unknown": f"at revision {UNKNOWN}, unknown to this atb (newer atb?)",
        "untracked": f"has atb tables ({_first_tables(data_dir)}, ...) but no alembic_version table: it "
        "was not created by `atb db upgrade`",
    }[state]
    assert said in out.out and "up to date" not in out.out


def test_an_older_database_upgraded_then_saves(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    _prepare("behind", capsys, data_dir)
    assert run_main(capsys, "db", "upgrade").code == 0
    saved = run_main(capsys, *BACKTEST, "--save")
    assert saved.code == 0 and "saved as session 1" in saved.out, saved.err
    assert "(up to date)" in run_main(capsys, "db", "current").out


def test_upgrading_from_an_unknown_revision_or_to_one_is_one_line(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    line = assert_one_error_line(run_main(capsys, "db", "upgrade", "nosuchrevision"), 1)
    assert "nosuchrevision" in line
    _prepare("unknown", capsys, data_dir)
    line = assert_one_error_line(run_main(capsys, "db", "upgrade"), 1)
    assert f"unknown revision {UNKNOWN} (newer atb?)" in line
    line = assert_one_error_line(run_main(capsys, "db", "downgrade", "--yes"), 1)
    assert f"unknown revision {UNKNOWN}" in line


def test_tables_without_a_version_table_are_named_and_never_migrated(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    expected = _prepare("untracked", capsys, data_dir)
    for args in (("db", "upgrade"), ("db", "downgrade", "--yes")):
        line = assert_one_error_line(run_main(capsys, *args), 1)
        assert expected in line and "no atb tables" not in line
    with sqlite3.connect(data_dir / "atb.db") as conn:  # left as it was: no version table made, no table dropped
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "alembic_version" not in tables and {"trading_sessions", "events", "fills"} <= tables
