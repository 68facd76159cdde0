"""The import contracts hold, and they would catch a layer crossing (a planted violation breaks them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "application", "adapters", "entrypoints", "migrations")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_tree(dest: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.csv.gz"))
    shutil.copy(ROOT / "importlinter.ini", dest / "importlinter.ini")
    return dest


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "importlinter.ini", "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def clean_result(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    return _lint(_copy_tree(tmp_path_factory.mktemp("clean")))


def test_the_contracts_hold_on_the_copy(clean_result: subprocess.CompletedProcess[str]) -> None:
    assert clean_result.returncode == 0, clean_result.stdout + clean_result.stderr
    assert "0 broken" in clean_result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("domain/model/symbols.py", "import sqlalchemy  # noqa", "The domain is pure"),
        ("domain/model/candles.py", "import pandas  # noqa", "The domain is pure"),
        ("application/engine.py", "import adapters.simulation  # noqa", "Hexagon layers"),
        ("application/use_cases/run_backtest.py", "import click  # noqa", "The application talks to the world"),
        ("adapters/files/csv_market_data.py", "import adapters.simulation.clock  # noqa", "Adapters do not import"),
        ("entrypoints/cli/render.py", "import adapters.files  # noqa", "Entrypoints reach adapters only"),
        ("migrations/env.py", "import entrypoints.container  # noqa", "Migrations read the persistence adapter"),
        ("adapters/persistence/database.py", "import migrations  # noqa", "Nothing imports the migrations"),
    ],
)
def test_a_planted_violation_breaks_the_contracts(
    tmp_path: Path,
    clean_result: subprocess.CompletedProcess[str],
    module: str,
    planted: str,
    contract: str,
) -> None:
    tree = _copy_tree(tmp_path)
    target = tree / module
    target.write_text(target.read_text() + f"\n{planted}\n")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), result.stdout
