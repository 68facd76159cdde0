"""User strategies: the ``StrategySource`` port (a strategies directory, ``path.py:Class``), implemented by
``adapters.strategies`` (docs/user-strategies.md, docs/adr/0020-user-strategies.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.strategies.registry import Catalog, Entry


@dataclass(frozen=True, slots=True)
class BrokenFile:
    """A strategy file that could not be loaded: ``message`` is one line, ``file:line: what``; ``stem`` is the
    file's name without its suffix and ``names`` the strategy names its text seems to declare (what
    ``--strategy NAME`` most likely meant)."""

    path: str
    stem: str
    message: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadedStrategies:
    """A catalog (the base's strategies plus every user strategy that loaded) and the files that did not."""

    catalog: Catalog
    broken: tuple[BrokenFile, ...] = ()

    def broken_file(self, name: str) -> BrokenFile | None:
        """The broken file whose stem is ``name`` (what ``--strategy name`` most likely meant), if any."""
        return next((b for b in self.broken if name == b.stem or name in b.names), None)


class StrategySource(Protocol):
    """Where user strategies come from. Loading runs the user's code in this process (a strategy file is code
    the user chose to run). Never raises for one bad file in a directory: it is reported in ``broken``."""

    def load(self, base: Catalog) -> LoadedStrategies:
        """``base`` plus the strategies of every file of the source. A missing directory that was named
        explicitly raises ``StrategyLoadError``; the default one, missing, is simply empty."""
        ...

    def load_spec(self, spec: str) -> Entry:
        """The strategy ``spec`` names: ``path/to/file.py:ClassName`` (or ``file.py`` holding exactly one).
        Raises ``StrategyLoadError`` with one line naming the file and the line."""
        ...
