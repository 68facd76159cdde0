"""``atb strategies``: what strategies exist, their parameters, defaults, versions and risk settings."""

from __future__ import annotations

import importlib
import json

import click

from entrypoints.cli.common import cli_settings, console


@click.group()
def strategies() -> None:
    """Strategies: list them, or show one's parameters and merged risk settings."""


@strategies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def strategies_list(as_json: bool) -> None:
    """List the registered strategies with their versions."""
    from rich.table import Table

    from domain.strategies.registry import strategy_catalog

    catalog = strategy_catalog()
    if as_json:
        click.echo(json.dumps([{k: v for k, v in entry.items() if k != "params"} for entry in catalog], indent=2))
        return
    table = Table(show_header=True, header_style="bold")
    for col in ("Name", "Version", "Description"):
        table.add_column(col)
    for entry in catalog:
        table.add_row(entry["name"], entry["version"], entry["description"])
    console().print(table)


@strategies.command("show")
@click.pass_context
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Show with these overrides.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def strategies_show(ctx: click.Context, name: str, params: tuple[str, ...], as_json: bool) -> None:
    """Show a strategy's version, parameters (defaults and types) and the risk settings it runs with."""
    from rich.table import Table

    from application.strategy_config import StrategyConfig

    overrides: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write name=value", param_hint="--param")
        overrides[key.strip()] = value.strip()
    config = StrategyConfig.resolve(name, overrides)
    described = config.describe(cli_settings(ctx).risk_layer())
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    out = console()
    out.print(f"[bold]{config.name}[/bold] {config.version}: {described['description']}")
    table = Table(show_header=True, header_style="bold", title="Parameters")
    for col in ("Name", "Type", "Default", "Value"):
        table.add_column(col)
    for row in described["parameters"]:
        table.add_row(row["name"], row["type"], str(row["default"]), str(row["value"]))
    out.print(table)
    risk = Table(
        show_header=True, header_style="bold", title="Risk settings (defaults < ATB_RISK_LIMITS < strategy's own)"
    )
    for col in ("Setting", "Value"):
        risk.add_column(col)
    for key, value in described["risk"].items():
        risk.add_row(key, str(value))
    out.print(risk)


strategies.add_command(importlib.import_module("entrypoints.cli.strategy_check").strategies_check)
