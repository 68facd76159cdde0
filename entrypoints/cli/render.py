"""Presenting results: tables for people (rich), JSON for machines."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from application.ports.market_data import DatasetInfo
from application.use_cases.run_backtest import BacktestReport
from domain.metrics import METRICS
from domain.model.trades import Trade


def iso(ms: int) -> str:
    """UTC ms as ISO 8601 with a Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _finite(x: float) -> float | None:
    return x if isinstance(x, float) and math.isfinite(x) else (None if isinstance(x, float) else x)


def format_metric(kind: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if kind == "pct":
        return f"{value * 100:,.2f}%"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "money":
        return f"{value:,.2f}"
    return f"{value:,.2f}"


def trade_dict(t: Trade) -> dict[str, Any]:
    return {
        "symbol": str(t.symbol),
        "direction": t.direction.value,
        "entry_time": iso(t.entry_time),
        "exit_time": iso(t.exit_time),
        "entry_price": t.entry_price,
        "exit_price": t.exit_price,
        "quantity": t.quantity,
        "fees": t.fees,
        "pnl": t.pnl,
        "return_pct": t.return_pct,
        "exit_reason": t.exit_reason,
    }


def report_dict(report: BacktestReport) -> dict[str, Any]:
    req = report.request
    pos = report.open_position
    return {
        "strategy": {
            "name": report.strategy_name,
            "version": report.strategy_version,
            "params": report.strategy_params,
        },
        "config": {
            "symbol": str(req.symbol),
            "timeframe": req.timeframe.value,
            "initial_balance": float(req.initial_cash),
            "fee_bps": float(req.fee_bps),
            "slippage_bps": float(req.slippage_bps),
        },
        "data": {
            "start": iso(int(report.open_time[0])),
            "end": iso(int(report.open_time[-1]) + req.timeframe.milliseconds),
            "bars": report.bars,
            "warmup_bars": report.warmup_bars_used,
            "gaps": report.gaps.gaps,
            "missing_bars": report.gaps.missing_bars,
            "largest_gap_bars": report.gaps.largest_missing_bars,
        },
        "metrics": {k: _finite(v) for k, v in report.metrics.items()},
        "trades": [trade_dict(t) for t in report.trades],
        "open_position": None
        if pos.is_flat
        else {"quantity": float(pos.quantity), "average_entry": float(pos.average_entry)},
        "denials": [{"time": iso(d.time_ms), "symbol": d.symbol, "reason": d.reason} for d in report.denials],
    }


def report_json(report: BacktestReport) -> str:
    return json.dumps(report_dict(report), indent=2, allow_nan=False)


def print_report(console: Console, report: BacktestReport) -> None:
    req = report.request
    gaps = report.gaps
    console.print(
        f"[bold]{report.strategy_name}[/bold] {report.strategy_version} on [bold]{req.symbol}[/bold] "
        f"{req.timeframe.value}  {day(int(report.open_time[0]))} → "
        f"{day(int(report.open_time[-1]) + req.timeframe.milliseconds)} UTC  "
        f"({report.bars:,} bars, {report.warmup_bars_used} warm-up)"
    )
    params = ", ".join(f"{k}={v}" for k, v in report.strategy_params.items())
    console.print(
        f"params: {params}  ·  balance {float(req.initial_cash):,.2f} {req.symbol.quote}  ·  "
        f"fee {float(req.fee_bps):g} bps/side  ·  slippage {float(req.slippage_bps):g} bps"
    )
    if gaps.has_gaps:
        console.print(
            f"[yellow]data gaps: {gaps.gaps} ({gaps.missing_bars} bars missing, largest "
            f"{gaps.largest_missing_bars} bars); traded through, not filled[/yellow]"
        )
    table = Table(show_header=True, header_style="bold")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for spec in METRICS:
        value = report.metrics.get(spec.key, math.nan)
        style = ""
        if spec.kind == "pct" and spec.key not in ("win_rate", "annual_volatility") and math.isfinite(value):
            style = "green" if value > 0 else "red" if value < 0 else ""
        table.add_row(
            spec.label,
            f"[{style}]{format_metric(spec.kind, value)}[/{style}]" if style else format_metric(spec.kind, value),
        )
    console.print(table)
    pos = report.open_position
    if not pos.is_flat:
        console.print(
            f"open position at the end: {float(pos.quantity):g} {req.symbol.base} from "
            f"{float(pos.average_entry):,.2f} (marked at the last close)"
        )
    if report.denials:
        console.print(
            f"[yellow]{len(report.denials)} decisions not carried out; first: {report.denials[0].reason}[/yellow]"
        )


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
