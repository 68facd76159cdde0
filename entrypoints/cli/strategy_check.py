"""``atb strategies check NAME``: the look-ahead audit, the prefix check and the ``history_bars`` check on the
bundled candles, with what failed and at which bar, in one screen (docs/strategy-checks.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from entrypoints.cli.common import CliError, cli_settings, container_settings, parse_params

if TYPE_CHECKING:
    from application.use_cases.check_strategy import CheckReport
    from domain.strategies.registry import Entry


def resolve_entry(ctx: click.Context, name: str) -> Entry:
    """The catalog entry of strategy ``name`` (the one place a name becomes a strategy here)."""
    from entrypoints.cli.catalog import cli_strategies

    strategies = cli_strategies(ctx)
    return strategies.catalog.entry(strategies.resolve(name, hint="NAME"))


def _count(n: int) -> str:
    return f"{n:,}"


def render(report: CheckReport) -> list[str]:
    """The report in at most about 25 lines: a header, each series' three checks, a verdict."""
    from application.use_cases.check_strategy import utc

    where = "built-in" if report.origin == "built-in" else f"{report.origin}: {report.source}"
    params = ", ".join(f"{k}={v}" for k, v in report.params.items())
    lines = [
        f"{report.strategy} {report.version} ({where}); {report.mode} checks; warmup {report.warmup}, "
        f"history_bars {report.history_bars}",
    ]
    if params:
        lines.append(f"  params: {params}")
    for s in report.series:
        lines.append(f"{s.symbol} {s.timeframe}, {_count(s.bars)} bars:")
        for r in s.results:
            if r.passed:
                lines.append(f"  {r.check:<10}  pass  {_count(r.checked)} decisions compared ({r.detail})")
                continue
            bars = ", ".join(str(b) for b in r.bars)
            more = ", ..." if r.failed > len(r.bars) else ""
            lines.append(f"  {r.check:<10}  FAIL  at bar {r.bars[0]} ({utc(r.times[0])} UTC); "
                         f"{_count(r.failed)} bars differ: {bars}{more}")  # fmt: skip
            lines.append(f"              ({r.detail})")
    took = f"{report.seconds:.1f} s" + (", cached" if report.cached else "")
    if report.passed:
        lines.append(f"passed: no look-ahead found ({took})")
    else:
        failed = sorted({r.check for _, r in report.failures()}, key=["look-ahead", "prefix", "history"].index)
        lines.append(f"FAILED: {', '.join(failed)} ({took})")
    return lines


@click.command("check")
@click.pass_context
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Check with these parameters.")
@click.option("--symbol", "symbols", multiple=True, help="Check on this bundled symbol only (repeatable).")
@click.option("--fast", is_flag=True, help="The fast checks a backtest runs (a sample of bars, one symbol).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def strategies_check(
    ctx: click.Context, name: str, params: tuple[str, ...], symbols: tuple[str, ...], fast: bool, as_json: bool
) -> None:
    """Check a strategy for look-ahead: perturbation audit, prefix check, history_bars check.

    Runs on every bar of the bundled candles; exit 1 when a check fails, naming the check and the first bar.
    """
    from domain.model.symbols import Symbol
    from entrypoints.container import build_container

    entry = resolve_entry(ctx, name)
    overrides: dict[str, Any] = parse_params(params)
    entry.cls(overrides)  # a bad parameter is one line now, before any candle is read
    wanted = [Symbol.parse(s) for s in symbols]
    container = build_container({"mode": "backtest", **container_settings(cli_settings(ctx))})
    report = container.check_strategy()(entry, overrides, mode="fast" if fast else "full", symbols=wanted)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        for line in render(report):
            click.echo(line)
    if not report.passed:  # the exit contract's exit 1: one line on stderr (docs/adr/0017-exit-contract.md)
        raise CliError(f"{report.strategy} looks ahead: {report.first_failure()}")
