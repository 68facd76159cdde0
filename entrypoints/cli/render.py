"""Presenting results: tables for people (rich), JSON for machines."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from application.ml import is_warning
from application.ports.market_data import DatasetInfo
from application.use_cases.run_backtest import BacktestReport
from domain.metrics import METRICS
from entrypoints.cli.common import day, iso
from entrypoints.reports.fmt import format_metric, price, tick_decimals

# The JSON output is built where the research API builds its records (one code path; docs/adr/0019).
from entrypoints.reports.records import denial_counts, report_dict, report_json, risk_event_dict, trade_dict

__all__ = ["denial_counts", "report_dict", "report_json", "risk_event_dict", "trade_dict"]


def print_report(console: Console, report: BacktestReport) -> None:
    req = report.request
    sim = req.simulation
    symbols = ", ".join(str(s) for s in req.symbols)
    console.print(
        f"[bold]{report.strategy_name}[/bold] {report.strategy_version} on [bold]{symbols}[/bold] "
        f"{req.timeframe.value}  {day(int(report.open_time[0]))} → "
        f"{day(int(report.open_time[-1]) + req.timeframe.milliseconds)} UTC  "
        f"({report.bars:,} bars, {report.warmup_bars_used} warm-up)"
    )
    params = ", ".join(f"{k}={v}" for k, v in report.strategy_params.items())
    console.print(
        f"params: {params}  ·  balance {float(req.initial_cash):,.2f} {req.symbols[0].quote}  ·  "
        f"fee {float(sim.fee_bps):g} bps/side  ·  slippage {float(sim.slippage_bps):g} bps"
        + (f" + {sim.volatility_slippage:g}x volatility" if sim.volatility_slippage else "")
        + (f"  ·  leverage {float(sim.leverage):g}x" if sim.leverage != 1 else "")
    )
    for sym, gaps in report.gaps.items():
        if gaps.has_gaps:
            console.print(
                f"[yellow]{sym}: {gaps.gaps} gaps ({gaps.missing_bars} bars missing, largest "
                f"{gaps.largest_missing_bars} bars); traded through, not filled[/yellow]"
            )
        zero = report.zero_volume_bars.get(sym, 0)
        if zero:
            console.print(f"[yellow]{sym}: {zero} bars with zero volume; nothing fills on them[/yellow]")
    for sym, rules in report.instruments.items():
        how = rules["source"] + (f", set by hand: {', '.join(rules['overridden'])}" if rules["overridden"] else "")
        console.print(
            f"{sym} exchange rules: tick {rules['tick_size']} · step {rules['step_size']} · "
            f"min notional {rules['min_notional']} ({how})",
            highlight=False,
        )
    if report.model:
        console.print("model: " + ", ".join(report.model.values()))
    for note in report.notes:
        if is_warning(note):
            console.print(f"[bold red]warning: {note}[/bold red]", markup=True, highlight=False)
        else:
            console.print(f"[yellow]note: {note}[/yellow]")
    table = Table(show_header=True, header_style="bold")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for spec in METRICS:
        value = report.metrics.get(spec.key, math.nan)
        text = format_metric(spec.kind, value)
        signed = spec.key in ("total_return", "cagr", "annualized_return", "buy_and_hold_return", "alpha")
        if signed and math.isfinite(value) and value != 0:
            text = f"[{'green' if value > 0 else 'red'}]{text}[/]"
        table.add_row(spec.label, text)
    console.print(table)
    for sym, pos in report.open_positions.items():
        console.print(
            f"open position at the end: {float(pos.quantity):g} {sym} from "
            f"{price(float(pos.average_entry), tick_decimals(report.instruments, sym))} (marked at the last close)"
        )
    counts = denial_counts(report)
    for action, template in (("denied", "decision{} denied"), ("reduced", "size reduction{}")):
        mine = [(rule, n) for rule, a, n in counts if a == action]
        if mine:
            total = sum(n for _, n in mine)
            what = template.format("" if total == 1 else "s")
            first = next(d for d in report.denials if d.action == action)
            listed = ", ".join(f"{rule} x{n}" for rule, n in mine)
            console.print(
                f"[yellow]{total} {what} ({listed}); first: {first.reason}[/yellow]",
                markup=True, highlight=False,
            )  # fmt: skip
    print_risk_events(console, report)


def print_risk_events(console: Console, report: BacktestReport) -> None:
    """The drawdown breaker's trips and resets, one line each (the first few, then how many more)."""
    events = report.risk_events
    if not events:
        return
    trips = sum(1 for e in events if e.kind == "trip")
    console.print(f"[yellow]risk events: circuit breaker tripped {trips}x, reset {len(events) - trips}x[/yellow]")
    shown = 10
    for e in events[:shown]:
        if e.kind == "trip":
            text = f"{e.rule} tripped  equity {e.equity:,.2f}, {e.drawdown:.1%} below {e.peak:,.2f}: no new entries"
        else:
            text = (
                f"{e.rule} reset  equity {e.equity:,.2f} ({e.drawdown:.1%} below {e.peak:,.2f}) is the breaker's "
                "new peak: entries allowed"
            )
        console.print(f"  {iso(e.time_ms)}  {text}", highlight=False)
    if len(events) > shown:
        console.print(f"  … {len(events) - shown} more (--json or --report list them all)")
    last = events[-1]
    if last.kind == "trip":
        console.print(f"[yellow]  still tripped at the end: no entries after {iso(last.time_ms)}[/yellow]")


def print_comparison(console: Console, sides: Sequence[tuple[str, BacktestReport]]) -> None:
    """Reports on the same data, one column per side (its label), metric by metric."""
    first = sides[0][1]
    tf = first.request.timeframe
    head = (
        f"{' vs '.join(label for label, _ in sides)} on {', '.join(first.symbols)} {tf.value}  "
        f"{day(int(first.open_time[0]))} → {day(int(first.open_time[-1]) + tf.milliseconds)} UTC"
    )
    console.print(Text(head), highlight=False)
    for label, report in sides:
        params = ", ".join(f"{k}={v}" for k, v in report.strategy_params.items())
        span = ""
        if report.bars != first.bars or int(report.open_time[0]) != int(first.open_time[0]):
            span = f"  ({day(int(report.open_time[0]))} → {day(int(report.open_time[-1]) + tf.milliseconds)} UTC)"
        model = f"  model {', '.join(report.model.values())}" if report.model else ""
        line = Text(label, style="bold")
        line.append(f": {report.strategy_name} {report.strategy_version}  {params}{model}{span}")
        console.print(line, highlight=False)
        for note in report.notes:
            if is_warning(note):
                console.print(Text(f"warning ({label}): {note}", style="bold red"), highlight=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column("Metric")
    for label, _ in sides:
        table.add_column(Text(label), justify="right")
    for spec in METRICS:
        table.add_row(
            spec.label, *(format_metric(spec.kind, report.metrics.get(spec.key, math.nan)) for _, report in sides)
        )
    console.print(table)


def print_datasets(console: Console, datasets: list[DatasetInfo]) -> None:
    table = Table(show_header=True, header_style="bold")
    for col in ("Symbol", "Timeframe", "From (UTC)", "To (UTC)", "Bars", "Gaps", "Source"):
        table.add_column(col, justify="right" if col in ("Bars", "Gaps") else "left")
    for d in datasets:
        table.add_row(
            str(d.symbol), d.timeframe.value, day(d.start_ms), day(d.end_ms), f"{d.bars:,}",
            f"{d.gaps.gaps} (max {d.gaps.largest_missing_bars} bars)" if d.gaps.gaps else "0", d.source,
        )  # fmt: skip
    console.print(table)
