"""Strategy files: a user's strategies directory and ``path/to/file.py:ClassName`` (the ``StrategySource`` port).

A file is imported by path under a private module name, ``atb_user_strategies.<stem>_<hash8>`` (hash8: of its
resolved path and content), registered in ``sys.modules`` so that ``inspect`` finds its source and dataclasses
work (in this process: another process would have to load the file again). The file is read once: its bytes
are compiled, hashed (``Entry.digest``, the check cache's key) and given to ``linecache``, so error lines and
``inspect`` see exactly the code that runs.

Every failure is one line naming the file and the line (``StrategyLoadError``), never a traceback: a syntax
error, an exception while importing (the user file's deepest line in the traceback), no strategy class, a
class that does not satisfy the API (``domain.strategies.discovery.problems``), a name clash.
"""

from __future__ import annotations

import hashlib
import importlib
import linecache
import os
import re
import stat
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path

from adapters.strategies.toml_strategy import load_toml_strategy
from application.ports.strategies import BrokenFile, LoadedStrategies
from domain.strategies.discovery import Problem, problems, source_line, strategies_in
from domain.strategies.registry import USER, Catalog, Entry, StrategyLoadError
from domain.strategies.strategy import Strategy

PACKAGE = "atb_user_strategies"
MAX_FILE_BYTES = 1 << 20  # 1 MiB: a strategy is code a person wrote, not data
MAX_FILES = 1000  # files of a directory looked at; more is not a strategies directory
_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DECLARED = re.compile(rb"^[ \t]+name\s*(?::[^=]*)?=\s*[\"']([a-z][a-z0-9_]{0,47})[\"']", re.MULTILINE)


def declared_names(path: Path) -> tuple[str, ...]:
    """The strategy names a file's text seems to declare (``name = "..."`` in a class body): a text scan, for
    naming a broken file by the strategy it meant to define."""
    try:
        data = read_source(path)
    except StrategyLoadError:
        return ()
    return tuple(dict.fromkeys(m.decode() for m in _DECLARED.findall(data)))


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _package() -> types.ModuleType:
    """The parent of every user strategy module (a namespace with no files of its own)."""
    package = sys.modules.get(PACKAGE)
    if package is None:
        package = types.ModuleType(PACKAGE, "User strategy files, imported by path (adapters.strategies).")
        package.__path__ = []
        sys.modules[PACKAGE] = package
    return package


def read_source(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of strategy file ``path``; refused (one line) unless it is a regular file of at most
    ``max_bytes``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StrategyLoadError(f"{path}: no such file") from None
    except OSError as e:
        raise StrategyLoadError(f"{path}: cannot read it: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StrategyLoadError(f"{path}: not a regular file")
    if st.st_size > max_bytes:
        raise StrategyLoadError(f"{path}: {st.st_size:,} bytes, more than a strategy file may hold ({max_bytes:,})")
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise StrategyLoadError(f"{path}: cannot read it: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise StrategyLoadError(f"{path}: more than a strategy file may hold ({max_bytes:,} bytes)")
    return data


def _import_error(path: str, exc: BaseException) -> StrategyLoadError:
    """One line for an exception raised while running ``path``'s code: the deepest frame in that file."""
    line = 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path and frame.lineno:
            line = frame.lineno
    what = _one_line(str(exc))
    return StrategyLoadError(str(Problem(path, line, f"{type(exc).__name__}: {what}" if what else type(exc).__name__)))


def import_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[types.ModuleType, str]:
    """Module and sha256 (hex) of Python file ``path``, imported under a private name (the same module again
    for the same file with the same content)."""
    data = read_source(path, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    shown = str(path)
    key = hashlib.sha256(f"{path.resolve()}\0{digest}".encode()).hexdigest()[:8]
    stem = re.sub(r"\W", "_", path.stem) or "strategy"
    name = f"{PACKAGE}.{stem}_{key}"
    loaded = sys.modules.get(name)
    if loaded is not None:  # the same file (resolved path) with the same content: the same classes
        return loaded, digest
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise StrategyLoadError(f"{shown}:{line}: not UTF-8 text; save the file as UTF-8") from None
    try:
        code = compile(text, shown, "exec", dont_inherit=True)
    except SyntaxError as e:  # IndentationError and TabError too
        raise StrategyLoadError(
            str(Problem(shown, e.lineno or 1, f"syntax error: {_one_line(e.msg) or 'invalid syntax'}"))
        ) from None
    except ValueError as e:  # source with NUL bytes
        raise StrategyLoadError(f"{shown}:1: cannot compile it: {_one_line(str(e))}") from None
    module = types.ModuleType(name)
    module.__file__ = shown
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin=shown)
    module.__package__ = PACKAGE
    # inspect reads the source through linecache: give it the text that was compiled (mtime None: kept as is)
    linecache.cache[shown] = (len(text), None, text.splitlines(keepends=True), shown)
    _package()
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as exc:  # SystemExit: a file that calls sys.exit() must not end atb
        sys.modules.pop(name, None)
        raise _import_error(shown, exc) from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module, digest


def _checked(cls: type[Strategy], file: str) -> None:
    """Refuse (one line) a class that does not satisfy the API; an exception in the author's code while it is
    checked (a ``warmup`` that divides by zero) is one line too."""
    try:
        found = problems(cls, file)
    except Exception as exc:
        raise _import_error(file, exc) from None
    if found:
        extra = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise StrategyLoadError(f"{found[0]}{extra}")


def classes_in_file(path: Path, class_name: str | None = None) -> tuple[list[type[Strategy]], str]:
    """The strategy classes of file ``path`` (``class_name``: only that one), each checked, and the file's
    sha256. Raises ``StrategyLoadError`` (one line naming the file and the line)."""
    module, digest = import_file(path)
    shown = str(path)
    if class_name is not None:
        obj = vars(module).get(class_name)
        if obj is None:
            found = ", ".join(c.__name__ for c in strategies_in(module)) or "none"
            raise StrategyLoadError(f"{shown}:1: no class {class_name} in this file (strategy classes: {found})")
        if not (isinstance(obj, type) and issubclass(obj, Strategy)):
            line = source_line(obj) if isinstance(obj, type) else 1
            raise StrategyLoadError(
                f"{shown}:{line or 1}: {class_name} is not a Strategy (subclass domain.strategies.api.Strategy)"
            )
        classes = [obj]
    else:
        classes = strategies_in(module)
        if not classes:
            raise StrategyLoadError(
                f"{shown}:1: no strategy class in this file (subclass domain.strategies.api.Strategy and give it a "
                "name)"
            )
    for cls in classes:
        _checked(cls, shown)
    return classes, digest


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """``path/to/file.py:ClassName`` (or ``path/to/file.py``) as (path, class name); refused, one line, when
    the class is not a Python name, the path not a ``.py`` file, or it climbs with ``..``."""
    path_text, sep, class_name = spec.rpartition(":")
    if not sep or "/" in class_name or "\\" in class_name or class_name.endswith(".py"):
        path_text, class_name = spec, ""
    if "\0" in spec or any(ch in spec for ch in "\n\r"):
        raise StrategyLoadError(f"{spec!a}: a strategy path holds no control characters")
    if sep and class_name and not _CLASS_NAME.match(class_name):
        raise StrategyLoadError(f"{spec}: {class_name!a} is not a class name; write path/to/file.py:ClassName")
    if not path_text.endswith(".py"):
        raise StrategyLoadError(f"{spec}: write path/to/file.py:ClassName (a Python file)")
    if ".." in re.split(r"[/\\]", path_text):
        raise StrategyLoadError(f"{spec}: write the path without '..' (from the working directory or absolute)")
    return Path(path_text).expanduser(), class_name or None


def is_spec(text: str) -> bool:
    """Whether ``text`` names a file (``x.py:Class``, ``dir/x.py``), not a strategy name."""
    return ".py" in text or "/" in text or "\\" in text or ":" in text


TomlLoader = Callable[[Path], type[Strategy]]


class DirectoryStrategies:
    """The ``StrategySource`` of a strategies directory: every ``*.py`` in it (not ``_*.py``, not
    ``test_*.py``) and every ``*.toml`` composition; not its subdirectories.

    ``required``: the directory was named explicitly (``ATB_STRATEGIES_DIR``), so a missing one is an error;
    the default one, missing, is simply empty.
    """

    def __init__(self, directory: Path | str | None, required: bool = False) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else None
        self.required = required

    def files(self) -> list[Path]:
        """The candidate files, sorted by name. Raises ``StrategyLoadError`` for a required directory that
        is missing or is not a directory."""
        folder = self.directory
        if folder is None:
            return []
        if not folder.exists():
            if self.required:
                raise StrategyLoadError(f"strategies directory {folder} (ATB_STRATEGIES_DIR) does not exist")
            return []
        if not folder.is_dir():
            raise StrategyLoadError(f"strategies directory {folder} (ATB_STRATEGIES_DIR) is not a directory")
        try:
            names = sorted(os.listdir(folder))
        except OSError as e:
            raise StrategyLoadError(f"strategies directory {folder}: cannot list it: {e.strerror or e}") from None
        picked = [
            folder / n for n in names
            if n.endswith((".py", ".toml")) and not n.startswith(("_", ".", "test_"))
        ]  # fmt: skip
        return picked[:MAX_FILES]

    def load(self, base: Catalog) -> LoadedStrategies:
        catalog = base.with_entries(())
        broken: list[BrokenFile] = []
        for path in self.files():
            try:
                if path.suffix == ".toml":
                    entries = [self._toml_entry(load_toml_strategy, path)]
                else:
                    classes, digest = classes_in_file(path)
                    entries = [Entry(cls, USER, str(path), digest) for cls in classes]
                trial = catalog.with_entries(entries)  # a clash refuses the whole file, never half of it
            except StrategyLoadError as e:
                broken.append(BrokenFile(str(path), path.stem, _one_line(str(e)), declared_names(path)))
                continue
            catalog = trial
        return LoadedStrategies(catalog, tuple(broken))

    @staticmethod
    def _toml_entry(loader: TomlLoader, path: Path) -> Entry:
        data = read_source(path)
        try:
            cls = loader(path)
        except StrategyLoadError:
            raise
        except Exception as exc:  # the TOML loader's own errors are one line naming the file already
            message = _one_line(str(exc))
            raise StrategyLoadError(message if message.startswith(str(path)) else f"{path}:1: {message}") from None
        _checked(cls, str(path))
        return Entry(cls, USER, str(path), hashlib.sha256(data).hexdigest())

    def load_spec(self, spec: str) -> Entry:
        path, class_name = parse_spec(spec)
        classes, digest = classes_in_file(path, class_name)
        if len(classes) > 1:
            names = ", ".join(c.__name__ for c in classes)
            raise StrategyLoadError(f"{path}:1: {len(classes)} strategy classes ({names}); write {path}:ClassName")
        return Entry(classes[0], USER, str(path), digest)
