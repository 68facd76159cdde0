"""``atb strategies``: what strategies exist (built-in and yours), their parameters, defaults, versions and risk
settings; ``new`` writes a template of your own (docs/user-strategies.md)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from entrypoints.cli.common import CliError, cli_settings, console, parse_params

if TYPE_CHECKING:
    pass


@click.group()
def strategies() -> None:
    """Strategies: list them, or show one's parameters and merged risk settings."""


@strategies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def strategies_list(ctx: click.Context, as_json: bool) -> None:
    """List the strategies, built-in and yours (ATB_STRATEGIES_DIR), with their versions and origins.

    A file of yours that cannot be loaded is listed with its one-line error.
    """
    from domain.strategies.registry import strategy_catalog
    from entrypoints.cli.catalog import cli_strategies

    loaded = cli_strategies(ctx)
    rows: list[dict[str, Any]] = strategy_catalog(loaded.catalog)
    for entry in rows:
        if entry["origin"] == "built-in":
            entry["source"] = ""
    broken: list[dict[str, Any]] = [
        {"name": b.stem, "version": None, "description": "", "origin": "user", "source": b.path, "error": b.message}
        for b in loaded.broken
    ]
    if as_json:
        click.echo(json.dumps([*rows, *broken], indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("Name", "Version", "Origin", "Source", "Description"):
        table.add_column(col, overflow="fold")  # a path is never cut short
    for entry in rows:
        table.add_row(entry["name"], entry["version"], entry["origin"], escape(entry["source"]),
                      escape(entry["description"]))  # fmt: skip
    for row in broken:
        table.add_row(row["name"], "-", "user", escape(row["source"]), f"[red]not loaded: {escape(row['error'])}[/red]")
    console().print(table)


def _range(row: dict[str, Any]) -> str:
    """A parameter's allowed values as text: ``[low, high]``, ``a | b`` or ``-``."""
    if row.get("choices"):
        return " | ".join(str(c) for c in row["choices"])
    low, high = row.get("low"), row.get("high")
    if low is None and high is None:
        return "-"
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


@strategies.command("show")
@click.pass_context
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Show with these overrides.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def strategies_show(ctx: click.Context, name: str, params: tuple[str, ...], as_json: bool) -> None:
    """Show a strategy's version, parameters (defaults and types) and the risk settings it runs with.

    NAME is a strategy name (built-in or yours) or path/to/file.py:ClassName.
    """
    from rich.markup import escape
    from rich.table import Table

    from application.strategy_config import describe_strategy
    from entrypoints.cli.catalog import cli_strategies

    overrides = parse_params(params)
    loaded = cli_strategies(ctx)
    resolved = loaded.resolve(name, hint="NAME")
    entry = loaded.catalog.entry(resolved)
    described = {**describe_strategy(loaded.catalog.create(resolved, overrides), cli_settings(ctx).risk_layer()),
                 "origin": entry.origin, "source": entry.source if entry.origin == "user" else ""}  # fmt: skip
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    out = console()
    where = f" ({escape(entry.source)})" if described["source"] else ""
    out.print(f"[bold]{resolved}[/bold] {described['version']}{where}: {escape(described['description'])}")
    table = Table(show_header=True, header_style="bold", title="Parameters")
    out.print(f"warm-up {described['warmup_bars']} bars; keeps {described['history_bars']} bars of history live"
              + (f"; reads the {described['model_type']} model's predictions" if described["model_type"] else ""))
    for col in ("Name", "Type", "Default", "Value", "Range", "Help"):
        table.add_column(col)
    for row in described["parameters"]:
        table.add_row(row["name"], row["type"], str(row["default"]), str(row["value"]), _range(row),
                      escape(row["help"] or ""))  # fmt: skip
    out.print(table)
    risk = Table(
        show_header=True, header_style="bold", title="Risk settings (defaults < ATB_RISK_LIMITS < strategy's own)"
    )
    for col in ("Setting", "Value"):
        risk.add_column(col)
    for key, value in described["risk"].items():
        risk.add_row(key, str(value))
    out.print(risk)


@strategies.command("new")
@click.pass_context
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write it (default: the strategies directory, ATB_STRATEGIES_DIR).")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite NAME.py and test_NAME.py if they exist.")
def strategies_new(ctx: click.Context, name: str, directory: Path | None, force: bool) -> None:
    """Write a commented template strategy NAME.py and its test file test_NAME.py."""
    from domain.strategies.discovery import NAME_RULE
    from domain.strategies.registry import builtin_catalog
    from entrypoints.cli.templates import class_name, render

    if not NAME_RULE.match(name):
        raise click.BadParameter(
            f"{ascii(name)[:50]}: a strategy name is lowercase letters, digits and _, starting with a letter "
            "(at most 48)", param_hint="NAME"
        )  # fmt: skip
    if name in builtin_catalog():
        raise click.BadParameter(f"{name!r} is a built-in strategy; choose another name", param_hint="NAME")
    settings = cli_settings(ctx)
    folder = (directory or settings.strategies_root()).expanduser()
    files = [folder / f"{name}.py", folder / f"test_{name}.py"]
    if not force:
        taken = [str(f) for f in files if f.exists() or f.is_symlink()]
        if taken:
            raise CliError(f"{taken[0]} exists; use --force to overwrite it")
    for f in files:
        if f.is_dir():
            raise CliError(f"{f} is a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"cannot create the directory {folder}: {e.strerror or e}") from None
    from entrypoints.reports import write_text_atomic

    for path, text in zip(files, render(name), strict=True):
        try:
            write_text_atomic(path, text)
        except OSError as e:
            raise CliError(f"cannot write {path}: {e.strerror or e}") from None
    in_dir = directory is None or folder.resolve() == settings.strategies_root().resolve()
    run = f"--strategy {name}" if in_dir else f"--strategy {files[0]}:{class_name(name)}"
    click.echo(f"wrote {files[0]} and {files[1]}")
    click.echo(f"next: pytest {files[1]}; atb backtest {run}")


strategies.add_command(importlib.import_module("entrypoints.cli.strategy_check").strategies_check)
