"""The strategies atb knows, by name: the built-in ones (found by scanning :mod:`domain.strategies.builtin`),
plus whatever a :class:`Catalog` is given (a user's directory, a ``path.py:Class``, a TOML composition)."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.model.errors import InvalidParameter
from domain.strategies import DEFAULT_STRATEGY  # noqa: F401  (re-exported: the registry names it too)
from domain.strategies.discovery import Problem, problems, source_file, source_line, strategies_in
from domain.strategies.strategy import Strategy

BUILT_IN = "built-in"
USER = "user"


class StrategyLoadError(InvalidParameter):
    """A strategy file or class that cannot be used; the message is one line naming the file and line."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A strategy class as the catalog knows it: where it came from (``origin``), the file it was read from
    and that file's content hash (user strategies: the look-ahead check's cache key)."""

    cls: type[Strategy]
    origin: str = BUILT_IN
    source: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return self.cls.name


class Catalog:
    """Strategies by name. Names are unique: a user strategy cannot take a built-in's name."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        found = problems(entry.cls)
        if found:
            raise StrategyLoadError(str(found[0]))
        clash = self._entries.get(entry.name)
        if clash is not None and clash.cls is not entry.cls:
            where = f"the {clash.origin} strategy" + (f" in {clash.source}" if clash.origin != BUILT_IN else "")
            taken = f"strategy name {entry.name!r} is taken by {where}"
            file = entry.source if entry.origin != BUILT_IN and entry.source else source_file(entry.cls)
            line = source_line(entry.cls) if file == source_file(entry.cls) else 1
            raise StrategyLoadError(str(Problem(file, line, taken)))
        self._entries[entry.name] = entry

    def with_entries(self, entries: Iterable[Entry]) -> Catalog:
        """A new catalog: this one's strategies and ``entries``."""
        return Catalog([*self._entries.values(), *entries])

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise InvalidParameter(f"unknown strategy {name!r}; available: {', '.join(self.names())}") from None

    def create(self, name: str, overrides: Mapping[str, Any] | None = None) -> Strategy:
        """Strategy ``name`` with its defaults overridden by ``overrides`` (validated)."""
        return self.entry(name).cls(dict(overrides or {}))

    def __contains__(self, name: object) -> bool:
        return name in self._entries


@functools.cache
def builtin_catalog() -> Catalog:
    """The built-in strategies: every Strategy class of every module of :mod:`domain.strategies.builtin`."""
    package = importlib.import_module("domain.strategies.builtin")
    entries = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        entries += [Entry(cls, BUILT_IN, f"{package.__name__}.{info.name}") for cls in strategies_in(module)]
    return Catalog(entries)


# -- the built-in catalog, as functions (what most callers need) ----------------------------------------------
def strategy_names() -> list[str]:
    return builtin_catalog().names()


def strategy_class(name: str) -> type[Strategy]:
    return builtin_catalog().entry(name).cls


def create_strategy(name: str, overrides: Mapping[str, Any] | None = None) -> Strategy:
    """Build built-in strategy ``name`` with its defaults overridden by ``overrides`` (validated)."""
    return builtin_catalog().create(name, overrides)


def describe_params(strategy: Strategy) -> dict[str, Any]:
    """The strategy's parameters as a plain dict (for reports and persistence)."""
    return dict(strategy.params)


def strategy_catalog(catalog: Catalog | None = None) -> list[dict[str, str]]:
    """Name, version, description and origin of every strategy of ``catalog`` (default: the built-ins)."""
    return [
        {"name": e.name, "version": e.cls.version, "description": e.cls.description, "origin": e.origin,
         "source": e.source if e.origin != BUILT_IN else ""}
        for e in (catalog or builtin_catalog()).entries()
    ]  # fmt: skip
