"""A composed strategy's TOML file (docs/composition.md) read into a strategy class.

The file is bounded (:data:`MAX_TOML_BYTES`), UTF-8 and TOML; every problem is one line naming the file, with
the line tomllib reports for a syntax error (``my.toml:3: ...``) or the key path for a wrong value
(``my.toml: signals[1].params.fast: ...``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from domain.strategies.registry import StrategyLoadError

if TYPE_CHECKING:
    from domain.strategies.strategy import Strategy

MAX_TOML_BYTES = 256 * 1024
"""A composition is a few dozen lines; anything this large is not one."""

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = re.compile(r"\s*\(at end of document\)$")


def read_text(path: Path) -> str:
    """The text of ``path`` (bounded, UTF-8); :class:`StrategyLoadError` (one line) if it cannot be read."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise StrategyLoadError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_TOML_BYTES:
        raise StrategyLoadError(f"{path}: larger than {MAX_TOML_BYTES // 1024} KB; a composition is a short file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StrategyLoadError(f"{path}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None


def parse_toml(text: str, path: Path) -> dict[str, object]:
    """``text`` parsed; :class:`StrategyLoadError` naming ``path`` and the line tomllib reports otherwise."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _AT_LINE.search(message)
        if found:
            detail = _AT_LINE.sub("", message)
            raise StrategyLoadError(f"{path}:{found[1]}: not valid TOML: {detail} (column {found[2]})") from None
        line = text.count("\n") + 1 if _AT_END.search(message) else 0
        raise StrategyLoadError(f"{path}:{line}: not valid TOML: {_AT_END.sub('', message)}") from None


def load_toml_strategy(path: Path) -> type[Strategy]:
    """The strategy class the composition in ``path`` declares, validated; :class:`StrategyLoadError` (one line
    naming the file, the line where it can be found, and the key path) otherwise."""
    from application.composition import CompositionError, strategy_from_mapping  # pydantic: only when needed

    text = read_text(path)
    data = parse_toml(text, path)
    try:
        return strategy_from_mapping(data, str(path))
    except CompositionError as exc:
        raise exc.at_line(line_of(text, exc.path)) from None


_KEY_PART = re.compile(r"([A-Za-z0-9_\-]+)(?:\[(\d+)\])*")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(?:#.*)?$")


def line_of(text: str, key_path: str) -> int:
    """The line (1-based) of ``text`` where the value at ``key_path`` (``signals[1].params.fast``) is written, or
    its table's header when the key itself is not written there; 0 when it cannot be found (a best effort for
    the usual layouts: ``[table]``, ``[[array]]``, ``[array.sub]``, inline tables on one line)."""
    parts = [(m[1], m[2]) for m in _KEY_PART.finditer(key_path)]
    if not parts:
        return 0
    lines = text.splitlines()
    headers = [(i, m[1], m[2]) for i, line in enumerate(lines) if (m := _HEADER.match(line))]
    table, index = parts[0]
    keys = [k for k, _ in parts[1:]]
    start = -1
    if index is not None:
        starts = [i for i, bracket, name in headers if bracket == "[[" and name == table]
        start = starts[int(index)] if int(index) < len(starts) else -1
    else:  # a table, or an array of tables as a whole (its first one)
        start = next((i for i, bracket, name in headers if bracket == "[" and name == table), -1)
        if start < 0:
            start = next((i for i, bracket, name in headers if bracket == "[[" and name == table), -1)
    if start < 0:  # a key of the root table (before any header), or a table written inline there
        first = headers[0][0] if headers else len(lines)
        found = _find_keys(lines, 0, first, [table, *keys])
        return found + 1 if found >= 0 else 0
    end = next((i for i, _, name in headers if i > start and not name.startswith(f"{table}.")), len(lines))
    if keys:
        sub = next((i for i, _, name in headers if start < i < end and name == f"{table}.{keys[0]}"), -1)
        if sub >= 0 and len(keys) == 1:
            return sub + 1
        found = _find_keys(lines, sub + 1, end, keys[1:]) if sub >= 0 else -1
        if found < 0:
            found = _find_keys(lines, start + 1, end, keys)
        if found >= 0:
            return found + 1
    return start + 1


def _find_keys(lines: list[str], start: int, end: int, keys: list[str]) -> int:
    """The index of the line in ``lines[start:end]`` that assigns ``keys[0]`` (and, on the same line, the
    following keys of an inline table), or -1."""
    if not keys:
        return -1
    assign = re.compile(rf"^\s*{re.escape(keys[0])}\s*=")
    for i in range(start, end):
        if assign.match(lines[i]):
            return i
    return -1
