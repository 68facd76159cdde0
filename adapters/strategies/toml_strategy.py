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


def read_toml(path: Path) -> dict[str, object]:
    """The parsed content of ``path``; :class:`StrategyLoadError` (one line) if it cannot be read or parsed."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise StrategyLoadError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_TOML_BYTES:
        raise StrategyLoadError(f"{path}: larger than {MAX_TOML_BYTES // 1024} KB; a composition is a short file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StrategyLoadError(f"{path}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None
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
    naming the file, and the line or the key path) otherwise."""
    from application.composition import strategy_from_mapping  # pydantic: only when a composition is read

    return strategy_from_mapping(read_toml(path), str(path))
