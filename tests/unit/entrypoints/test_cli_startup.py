"""Start-up: what ``atb`` imports before it does anything. Time is measured in bench/startup.py (not here: a timed
test fails on a busy machine and passes on a fast one); these tests pin the imports that make the time."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from entrypoints.cli.main import LAZY_COMMANDS, cli

HEAVY = ("numpy", "pandas", "pydantic", "sqlalchemy", "alembic", "rich", "onnxruntime", "tensorflow",
         "dependency_injector")  # fmt: skip


def imported_by(*args: str) -> set[str]:
    """The top-level packages of HEAVY that ``atb ARGS`` has imported when it exits (a fresh interpreter)."""
    probe = (
        "import json, sys\n"
        "from entrypoints.cli.main import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_atb_help_imports_none_of_the_heavy_stacks() -> None:
    assert imported_by("--help") == set()


def test_atb_alone_and_a_group_help_import_none_of_them_either() -> None:
    assert imported_by() == set()
    assert imported_by("backtest", "--help") == set()


def test_strategies_list_needs_numpy_rich_and_the_settings_only() -> None:
    # the settings (pydantic) name the user's strategies directory (ADR 0020); never the container or pandas
    assert imported_by("strategies", "list") == {"numpy", "rich", "pydantic"}


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_a_lazy_command_is_listed_with_its_own_short_help(name: str) -> None:
    short_help = LAZY_COMMANDS[name][2]
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    assert short_help == command.get_short_help_str(limit=10_000)


def test_the_help_lists_every_command_once() -> None:
    text = cli.get_help(click.Context(cli, info_name="atb"))
    listed = [line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted({*cli.commands, *LAZY_COMMANDS})


def test_a_backtest_that_saves_nothing_loads_no_database_and_no_model_runtime() -> None:
    loaded = imported_by("backtest", "--strategy", "ema_cross", "--start", "2021-05-01", "--json")
    assert {"numpy", "pandas"} <= loaded  # it did run: candles read, signals computed
    assert not loaded & {"sqlalchemy", "alembic", "onnxruntime", "tensorflow"}
