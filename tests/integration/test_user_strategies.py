"""The user-strategy loader (adapters/strategies) on real files: a directory, ``path.py:Class``, and every way a
file can be broken, each one line naming the file and the line."""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from adapters.strategies import MAX_FILE_BYTES, PACKAGE, DirectoryStrategies
from domain.strategies.api import Context
from domain.strategies.audit import lookahead_bars
from domain.strategies.registry import BUILT_IN, USER, StrategyLoadError, builtin_catalog
from tests.builders import random_walk
from tests.user_strategy_files import BROKEN, GOOD, Broken, marked_line, write_strategies


def test_a_directory_gives_its_strategies_beside_the_built_ins(tmp_path: Path) -> None:
    folder = write_strategies(tmp_path / "strategies", broken=[])
    loaded = DirectoryStrategies(folder).load(builtin_catalog())
    assert loaded.broken == ()
    assert set(loaded.catalog.names()) == {*builtin_catalog().names(), "slow_cross"}
    entry = loaded.catalog.entry("slow_cross")
    assert (entry.origin, entry.source) == (USER, str(folder / "good.py"))
    assert entry.digest == hashlib.sha256((folder / "good.py").read_bytes()).hexdigest()
    assert entry.cls.__module__.startswith(f"{PACKAGE}.good_") and entry.cls.__module__ in sys.modules
    assert inspect.getsourcefile(entry.cls) == str(folder / "good.py")  # what the checks and errors read
    assert inspect.getsource(entry.cls).startswith("class SlowCross(Strategy):")
    assert all(e.origin == BUILT_IN for e in loaded.catalog.entries() if e.name != "slow_cross")
    # _helpers.py, test_good.py and sub/deeper.py would raise if imported: they were not


def test_a_loaded_strategy_runs_and_is_causal(tmp_path: Path) -> None:
    folder = write_strategies(tmp_path / "s", broken=[])
    strategy = DirectoryStrategies(folder).load(builtin_catalog()).catalog.create("slow_cross", {"fast": "5"})
    candles = random_walk(800, seed=3)
    signals = strategy.signals(candles, Context())
    assert len(signals.long_entry) == len(candles) and signals.long_entry.any()
    assert lookahead_bars(strategy, candles, range(40, 801, 17)) == []
    assert strategy.params == {"fast": 5, "slow": 30}


@pytest.mark.parametrize("item", BROKEN, ids=lambda b: b.stem)
def test_each_broken_file_is_one_line_naming_its_file_and_line(tmp_path: Path, item: Broken) -> None:
    folder = write_strategies(tmp_path / "strategies", broken=[item])
    loaded = DirectoryStrategies(folder).load(builtin_catalog())
    assert "slow_cross" in loaded.catalog  # one broken file does not stop the others
    [broken] = loaded.broken
    path = folder / f"{item.stem}.py"
    assert broken.path == str(path) and broken.stem == item.stem
    assert broken.message.startswith(f"{path}:{marked_line(item.text)}: {item.says}"), broken.message
    assert "\n" not in broken.message and "Traceback" not in broken.message
    assert loaded.broken_file(item.stem) == broken


def test_a_broken_file_is_found_by_the_name_it_declares(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "whatever.py").write_text("from domain.strategies.api import Strategy\n\nclass X(Strategy):\n"
                                        "    name = 'my_name'\n    x = 1 / 0\n")  # fmt: skip
    loaded = DirectoryStrategies(folder).load(builtin_catalog())
    found = loaded.broken_file("my_name")
    assert found is not None and found.message == f"{folder / 'whatever.py'}:5: ZeroDivisionError: division by zero"


def test_a_file_that_exits_or_fails_in_its_warmup_is_one_line_too(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "exits.py").write_text("import sys\n\nsys.exit(3)\n")
    (folder / "warm.py").write_text(
        "from domain.strategies.api import Strategy\n\nclass W(Strategy):\n    name = 'warm'\n\n"
        "    @property\n    def warmup(self):\n        return 1 // 0\n\n"
        "    def signals(self, candles, context):\n        return None\n"
    )
    broken = {b.stem: b.message for b in DirectoryStrategies(folder).load(builtin_catalog()).broken}
    assert broken == {
        "exits": f"{folder / 'exits.py'}:3: SystemExit: 3",
        "warm": f"{folder / 'warm.py'}:8: ZeroDivisionError: integer division or modulo by zero",
    }


def test_a_path_names_one_class_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(GOOD)
    source = DirectoryStrategies(None)
    entry = source.load_spec(f"{path}:SlowCross")
    assert (entry.name, entry.origin, entry.source) == ("slow_cross", USER, str(path))
    assert source.load_spec(str(path)).cls is entry.cls  # the only class; the same file: the same module
    nope = f"{path}:1: no class Nope in this file (strategy classes: SlowCross)"
    with pytest.raises(StrategyLoadError, match=f"^{re.escape(nope)}$"):
        source.load_spec(f"{path}:Nope")
    with pytest.raises(StrategyLoadError, match=rf"^{re.escape(str(path))}:\d+: Context is not a Strategy"):
        source.load_spec(f"{path}:Context")


def test_a_path_that_climbs_or_is_no_python_file_is_refused(tmp_path: Path) -> None:
    source = DirectoryStrategies(None)
    for spec, says in [
        ("../x.py:A", "without '..'"),
        ("a/../../x.py:A", "without '..'"),
        ("x.txt:A", "a Python file"),
        ("x.py:../A", "a Python file"),
        ("x.py:A-b", "is not a class name"),
        ("x.py:A\nB", "no control characters"),
    ]:
        with pytest.raises(StrategyLoadError, match=says):
            source.load_spec(spec)


def test_only_regular_files_of_a_bounded_size_are_read(tmp_path: Path) -> None:
    source = DirectoryStrategies(None)
    (tmp_path / "dir.py").mkdir()
    with pytest.raises(StrategyLoadError, match=r"dir\.py: not a regular file$"):
        source.load_spec(f"{tmp_path / 'dir.py'}:A")
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    with pytest.raises(StrategyLoadError, match="not a regular file"):  # never opened: a FIFO would block
        source.load_spec(f"{fifo}:A")
    big = tmp_path / "big.py"
    big.write_text(GOOD + "#" * MAX_FILE_BYTES)
    with pytest.raises(StrategyLoadError, match="more than a strategy file may hold"):
        source.load_spec(f"{big}:SlowCross")
    with pytest.raises(StrategyLoadError, match="no such file"):
        source.load_spec(f"{tmp_path / 'absent.py'}:A")


def test_a_missing_directory_is_empty_unless_it_was_named(tmp_path: Path) -> None:
    absent = tmp_path / "nowhere"
    assert DirectoryStrategies(absent).load(builtin_catalog()).catalog.names() == builtin_catalog().names()
    with pytest.raises(StrategyLoadError, match=r"nowhere \(ATB_STRATEGIES_DIR\) does not exist"):
        DirectoryStrategies(absent, required=True).load(builtin_catalog())
    (tmp_path / "file").write_text("")
    with pytest.raises(StrategyLoadError, match="is not a directory"):
        DirectoryStrategies(tmp_path / "file").load(builtin_catalog())


def test_a_changed_file_is_loaded_again_under_another_module(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(GOOD)
    first = DirectoryStrategies(None).load_spec(str(path))
    path.write_text(GOOD.replace('version = "1.2.0"', 'version = "1.3.0"'))
    second = DirectoryStrategies(None).load_spec(str(path))
    assert (first.cls.version, second.cls.version) == ("1.2.0", "1.3.0")
    assert first.digest != second.digest and first.cls.__module__ != second.cls.__module__


def test_toml_compositions_in_the_directory_load_beside_python_files_and_a_broken_one_is_its_line(
    tmp_path: Path,
) -> None:
    folder = write_strategies(tmp_path / "s", broken=[])
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ensemble.toml"
    (folder / "combo.toml").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "junk.toml").write_text("[strategy]\nname = \"junk\"\nthis is not even TOML [[[\n", encoding="utf-8")
    loaded = DirectoryStrategies(folder).load(builtin_catalog())
    assert "slow_cross" in loaded.catalog
    entry = loaded.catalog.entry("my_ensemble")
    assert (entry.origin, entry.source) == ("user", str(folder / "combo.toml"))
    assert len(entry.digest) == 64
    (broken,) = loaded.broken
    assert broken.message.startswith(f"{folder / 'junk.toml'}:3")


def test_the_loaded_strategy_decides_like_the_same_class_defined_here(tmp_path: Path) -> None:
    # an oracle for the import machinery: the file's class and the same source exec'd here agree bar by bar
    namespace: dict[str, object] = {}
    exec(compile(GOOD, "<here>", "exec"), namespace)
    here = namespace["SlowCross"]()  # type: ignore[operator]
    path = tmp_path / "mine.py"
    path.write_text(GOOD)
    loaded = DirectoryStrategies(None).load_spec(str(path)).cls()
    candles = random_walk(600, seed=9)
    a, b = here.signals(candles, Context()), loaded.signals(candles, Context())
    assert np.array_equal(a.long_entry, b.long_entry) and np.array_equal(a.long_exit, b.long_exit)
