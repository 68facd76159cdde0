"""The strategies a command can name: the built-ins, the user's (``ATB_STRATEGIES_DIR``) and any
``path/to/file.py:ClassName`` given on the command line, loaded once per command (docs/user-strategies.md).

Imports nothing heavy at the top: ``atb --help`` never loads a strategy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from entrypoints.cli.common import cli_settings

if TYPE_CHECKING:
    from application.ports.strategies import BrokenFile, LoadedStrategies, StrategySource
    from domain.strategies.registry import Catalog
    from domain.strategies.strategy import Strategy


class CliStrategies:
    """The catalog a command works with; ``path.py:Class`` names are added to it as they are resolved."""

    def __init__(self, loaded: LoadedStrategies, source: StrategySource) -> None:
        self._loaded = loaded
        self._source = source
        self.catalog: Catalog = loaded.catalog.with_entries(())  # a copy: path entries are added to it
        self._specs: dict[str, str] = {}
        self._warned = False

    @property
    def broken(self) -> tuple[BrokenFile, ...]:
        return self._loaded.broken

    def resolve(self, text: str, hint: str = "--strategy") -> str:
        """The catalog name of ``text``: a strategy name, or ``path/to/file.py:ClassName`` (loaded and added).
        An unknown name is a usage error (exit 2); a broken file of that name is its one line (exit 1)."""
        from entrypoints.strategy_sources import is_spec

        if text in self.catalog:
            return text
        if is_spec(text):
            if text not in self._specs:
                entry = self._source.load_spec(text)
                self.catalog.add(entry)  # a name taken by another strategy: one line naming the file and line
                self._specs[text] = entry.name
            return self._specs[text]
        broken = self._loaded.broken_file(text)
        if broken is not None:
            from domain.strategies.registry import StrategyLoadError

            raise StrategyLoadError(broken.message)
        raise click.BadParameter(
            f"unknown strategy {text!r}; available: {', '.join(self.catalog.names())} (or path/to/file.py:ClassName)",
            param_hint=hint,
        )

    def create(self, text: str, params: dict[str, Any] | None = None) -> Strategy:
        """Strategy ``text`` (a name or ``path.py:Class``) with ``params`` (validated)."""
        return self.catalog.create(self.resolve(text), params)

    def warn_broken(self) -> None:
        """Say once, on stderr, which user strategy files were skipped (the run goes on without them)."""
        if self._warned:
            return
        self._warned = True
        for broken in self.broken:
            click.echo(f"warning: skipped {broken.message}", err=True)


def user_code_error(catalog: Catalog, name: str, exc: BaseException) -> Exception | None:
    """One line for an exception a user strategy's own code raised during a run (``my.py:23: ZeroDivisionError:
    ...``, exit 1: the user's to fix, not atb's bug); None when the exception did not come from a user file."""
    import traceback

    from entrypoints.cli.common import CliError

    if name not in catalog:
        return None
    entry = catalog.entry(name)
    if entry.origin == "built-in" or not entry.source:
        return None
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == entry.source and f.lineno]
    if not lines:
        return None
    what = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    detail = f"{type(exc).__name__}: {what}" if what else type(exc).__name__
    return CliError(f"{entry.source}:{lines[-1]}: {detail} (raised by strategy {name} during the run)")


def cli_strategies(ctx: click.Context | None = None) -> CliStrategies:
    """The command's strategies (loaded on first use, then kept on the root context)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    found: CliStrategies | None = root.obj.get("strategies")
    if found is None:
        from entrypoints.strategy_sources import load_strategies, user_strategy_source

        settings = cli_settings(ctx)
        source = user_strategy_source(settings.strategies_root(), required=settings.strategies_dir is not None)
        found = CliStrategies(load_strategies(source), source)
        root.obj["strategies"] = found
    return found


def full_catalog(ctx: click.Context | None = None) -> Catalog:
    """Every strategy this command can run: built-in, user, and the ``path.py:Class`` resolved so far."""
    return cli_strategies(ctx).catalog
