"""The strategy side of the composition root: which ``StrategySource`` reads user strategies, and the catalog
(built-ins + user strategies) a run uses. ``entrypoints/container.py`` provides both; they live in this small
module so that commands which only list, show or write strategies need not import the container (and with it
dependency-injector, pandas and every adapter): ``atb strategies list`` stays quick (docs/adr/0012-fast-start.md).

Adapters are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from application.ports.strategies import LoadedStrategies, StrategySource
    from domain.strategies.registry import Catalog


def user_strategy_source(strategies_dir: str | Path | None, required: bool = False) -> StrategySource:
    """User strategies from ``strategies_dir`` (``required``: named explicitly, so it must exist)."""
    from adapters.strategies import DirectoryStrategies

    return DirectoryStrategies(strategies_dir, required)


def load_strategies(source: StrategySource) -> LoadedStrategies:
    """The built-in strategies and the source's; the source's broken files beside them."""
    from domain.strategies.registry import builtin_catalog

    return source.load(builtin_catalog())


def strategy_catalog(given: Catalog | None, source: StrategySource) -> Catalog:
    """``given`` (the catalog the CLI already loaded, with any ``path.py:Class`` in it), else the built-ins and
    the source's strategies (broken files are left out; ``atb strategies list`` shows them)."""
    if given is not None:
        return given
    return load_strategies(source).catalog


def is_spec(text: str) -> bool:
    """Whether ``--strategy text`` names a file (``x.py:Class``, ``dir/x.py``) rather than a strategy name."""
    return ".py" in text or "/" in text or "\\" in text or ":" in text
