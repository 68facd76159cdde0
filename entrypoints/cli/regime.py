"""``atb regime``: the share of each market regime (trend x volatility) per UTC year."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from application.use_cases.regime_report import RegimeBreakdown, RegimeReport, RegimeRequest
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.cli.common import cli_settings, console, day, iso, parse_date
from entrypoints.container import build_container


def breakdown_dict(result: RegimeBreakdown) -> dict[str, Any]:
    """The JSON form: range, parameters, and per-year and overall shares keyed ``up/low`` ..."""
    req = result.request
    return {
        "symbol": str(req.symbol),
        "timeframe": req.timeframe.value,
        "start": iso(result.start_ms),
        "end": iso(result.end_ms),
        "bars": result.bars,
        "warmup_bars": result.warmup_bars,
        "params": dataclasses.asdict(req.params),
        "regimes": [str(r) for r in result.regimes],
        "years": [{"year": int(row.label), "bars": row.bars, "shares": row.as_dict()} for row in result.years],
        "all": {"bars": result.total.bars, "shares": result.total.as_dict()},
    }


def print_breakdown(console: Console, result: RegimeBreakdown) -> None:
    req = result.request
    console.print(
        f"[bold]regimes[/bold] of [bold]{req.symbol}[/bold] {req.timeframe.value}  {day(result.start_ms)} → "
        f"{day(result.end_ms)} UTC  ({result.bars:,} bars, {result.warmup_bars:,} in warm-up, not counted)"
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("Year")
    table.add_column("Bars", justify="right")
    for regime in result.regimes:
        table.add_column(str(regime), justify="right")
    for i, row in enumerate((*result.years, result.total)):
        if i == len(result.years):
            table.add_section()
        table.add_row(row.label, f"{row.bars:,}", *(f"{s:.1%}" for s in row.shares))
    console.print(table)


@click.command("regime")
@click.option("--symbol", help="Symbol, e.g. BTCUSDT (default: settings' default_symbol, or the data file's).")
@click.option("--timeframe", help="Candle timeframe, e.g. 1h (default: settings' default_timeframe).")
@click.option("--start", help="First bar counted, YYYY-MM-DD (UTC); earlier bars still warm the detector up.")
@click.option("--end", help="End of the range, exclusive, YYYY-MM-DD (UTC). Default: end of the data.")
@click.option("--json", "as_json", is_flag=True, help="Print the shares as JSON.")
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Use your own candles: CSV or CSV.gz, atb or Binance kline format.")  # fmt: skip
@click.pass_context
def regime(
    ctx: click.Context,
    symbol: str | None,
    timeframe: str | None,
    start: str | None,
    end: str | None,
    as_json: bool,
    data_file: Path | None,
) -> None:
    """Share of each regime (trend up/sideways/down x volatility low/high) per UTC year.

    The detector is causal: a bar's regime uses that bar and earlier ones only.
    """
    settings = cli_settings(ctx)
    start_ms, end_ms = parse_date(start, "--start"), parse_date(end, "--end")
    container = build_container(
        {
            "mode": "backtest",
            "data_source": "file" if data_file else "bundled",
            "data_file": str(data_file) if data_file else None,
            "data_symbol": symbol,
            "data_timeframe": timeframe,
            "max_data_bytes": settings.max_data_bytes,
            "max_data_rows": settings.max_data_rows,
        }
    )
    market_data = container.market_data()
    if data_file is not None and symbol is None:
        info = market_data.datasets()[0]
        sym, tf = info.symbol, info.timeframe if timeframe is None else Timeframe.parse(timeframe)
    else:
        sym = Symbol.parse(symbol or settings.default_symbol)
        tf = Timeframe.parse(timeframe or settings.default_timeframe)
    result = RegimeReport(market_data)(RegimeRequest(sym, tf, start_ms, end_ms))
    if as_json:
        click.echo(json.dumps(breakdown_dict(result), indent=2, allow_nan=False))
    else:
        print_breakdown(console(), result)
