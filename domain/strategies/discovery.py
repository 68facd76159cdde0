"""Finding strategies in a module and checking that a class satisfies the API, the same way for the built-in
package, a user's strategies directory, a ``path.py:Class`` and a TOML composition.

Problems come back as :class:`Problem` (file, line, message) so that every loader can print one line that
names the file and the line: ``my_strategies/cross.py:14: parameter slow has no default``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from domain.model.errors import InvalidParameter
from domain.risk import create_sizer, merge_layers
from domain.strategies.strategy import Strategy

NAME_RULE = re.compile(r"[a-z][a-z0-9_]{0,47}\Z")
VERSION_RULE = re.compile(r"\d+\.\d+\.\d+\Z")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a strategy cannot be loaded, and where."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def strategies_in(module: ModuleType) -> list[type[Strategy]]:
    """The strategy classes *defined* in ``module`` (imported ones are not counted twice), in source order."""
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Strategy) and obj is not Strategy
        and obj.__module__ == module.__name__ and not inspect.isabstract(obj) and not _is_base(obj)
    ]  # fmt: skip
    return sorted(found, key=source_line)


def _is_base(cls: type[Strategy]) -> bool:
    """A class meant to be subclassed, not run: it says so with ``name = ""`` (the base class's)."""
    return not cls.__dict__.get("name", "") and not any(c.__dict__.get("name") for c in cls.__mro__[1:-2])


def source_line(cls: type[Any]) -> int:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 0


def source_file(cls: type[Any]) -> str:
    try:
        return inspect.getsourcefile(cls) or "<unknown>"
    except TypeError:
        return "<unknown>"


def problems(cls: type[Strategy], file: str | None = None) -> list[Problem]:
    """Everything that keeps ``cls`` from being a usable strategy (empty: it satisfies the API)."""
    where = file or source_file(cls)
    line = source_line(cls)
    found: list[Problem] = []

    def add(message: str, at: int = line) -> None:
        found.append(Problem(where, at, message))

    label = f"class {cls.__name__}"
    if not isinstance(cls.__dict__.get("name", getattr(cls, "name", "")), str) or not NAME_RULE.match(cls.name):
        add(f"{label}: name must be lowercase letters, digits and _ (at most 48), got {cls.name!r}")
    if not isinstance(cls.version, str) or not VERSION_RULE.match(cls.version):
        add(f"{label}: version must look like 1.0.0, got {cls.version!r}")
    if not isinstance(cls.description, str):  # type: ignore[redundant-expr,unreachable,unused-ignore]
        add(f"{label}: description must be text")  # type: ignore[unreachable,unused-ignore]
    if cls.signals is Strategy.signals:
        add(f"{label} does not implement signals(candles, context)")
    else:
        params = list(inspect.signature(cls.signals).parameters)
        if len(params) != 3:
            add(f"{label}: signals must take (self, candles, context), it takes ({', '.join(params)})")
    for spec in cls.parameters.values():
        issue = spec.problem()
        if issue is not None:
            found.append(Problem(spec.file if spec.file else where, spec.line or line, issue))
    if found:
        return found
    try:
        instance = cls()
        warmup, history = instance.warmup, instance.history_bars
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            add(f"{label}: warmup must be a whole number of bars >= 0, got {warmup!r}")
        elif not isinstance(history, int) or isinstance(history, bool) or history <= warmup:
            add(f"{label}: history_bars must be a whole number of bars above warmup ({warmup}), got {history!r}")
        model = instance.model_type
        if model is not None and not isinstance(model, str):
            add(f"{label}: model_type must be a model type name or None, got {model!r}")  # type: ignore[unreachable,unused-ignore]
        extras = instance.extras()
        if extras.sizer is not None:
            create_sizer(extras.sizer, dict(extras.sizer_params))
        merge_layers(dict(extras.risk))
    except InvalidParameter as exc:
        add(f"{label} with its defaults: {exc}")
    return found
