"""``atb``: the command line. Every user error is one line on stderr and a non-zero exit code."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from application.engine import EngineConfig, ProgressCallback
from application.ports.broker import SimulationSettings
from application.ports.errors import ApplicationError
from application.use_cases.run_backtest import BacktestReport, BacktestRequest
from domain.model.errors import DomainError
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.registry import DEFAULT_STRATEGY, create_strategy, strategy_names
from entrypoints.cli.common import console, container_settings, iso, parse_date, parse_params
from entrypoints.cli.db import db
from entrypoints.cli.models import models, train
from entrypoints.cli.regime import regime
from entrypoints.cli.render import print_comparison, print_datasets, print_report, report_dict, report_json
from entrypoints.cli.sessions import sessions
from entrypoints.cli.strategies import strategies
from entrypoints.container import build_container
from entrypoints.logging_setup import configure_logging
from entrypoints.reports import write_html_report
from entrypoints.settings import Settings, SettingsError, load_settings

log = logging.getLogger("atb.cli")

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


def _decimal(value: float | str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None


def _exchange_rule(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    """A --tick-size / --step-size / --min-notional value: a positive, finite decimal."""
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise click.BadParameter(f"must be a positive number, got {value}")
    return number


def progress_bar(console: Console, enabled: bool) -> tuple[ProgressCallback | None, Callable[[], None]]:
    """A progress callback drawing on stderr (only on a terminal), and a function that closes it."""
    if not enabled:
        return None, lambda: None
    progress = Progress(
        TextColumn("backtest"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} bars"),
        TimeRemainingColumn(), console=console, transient=True,
    )  # fmt: skip
    task = progress.add_task("bars", total=None)
    progress.start()

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update, progress.stop


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="atb", prog_name="atb")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors and log at DEBUG.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines as text or JSON (for machines).")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=Path(".env"), show_default=True)
@click.pass_context
def cli(ctx: click.Context, debug: bool, log_level: str | None, log_format: str | None, env_file: Path) -> None:
    """atb: long-term, risk-balanced trend following on crypto markets.

    Settings come from defaults, then .env, then ATB_* environment variables, then these flags.
    """
    overrides: dict[str, Any] = {"log_level": "DEBUG" if debug else log_level, "log_format": log_format}
    settings = load_settings(overrides, env_file)
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    ctx.obj = {"settings": settings, "env_file": env_file, "debug": debug}


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    """The group's settings with this command's flags on top."""
    base: Settings = ctx.obj["settings"]
    if not any(v is not None for v in flags.values()):
        return base
    return load_settings({**{k: v for k, v in flags.items() if v is not None}}, ctx.obj["env_file"])


def backtest_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``atb backtest`` and ``atb backtest compare``."""
    options = [
        click.option("--symbol", "symbols", multiple=True,
                     help="Symbol, e.g. BTCUSDT; repeat for a portfolio sharing one balance."),
        click.option("--timeframe", help="Candle timeframe, e.g. 1h (default: settings' default_timeframe)."),
        click.option("--start", help="First bar to trade, YYYY-MM-DD (UTC). Default: start of the data."),
        click.option("--end", help="End of the range, exclusive, YYYY-MM-DD (UTC). Default: end of the data."),
        click.option("--balance", type=float, help="Starting balance in the quote currency (default 10000)."),
        click.option("--fee-bps", type=float, help="Fee per side in basis points (default 10 = 0.1%)."),
        click.option("--slippage-bps", type=float, help="Fixed slippage on market and stop fills, bps (default 5)."),
        click.option("--volatility-slippage", type=float, default=0.0, show_default=True,
                     help="Extra slippage: this many standard deviations of recent bar returns."),
        click.option("--leverage", type=float,
                     help="Margin account leverage (default: what the strategy is designed for, else 1)."),
        click.option("--allow-short", is_flag=True, help="Margin account: short entry signals open shorts."),
        click.option("--intrabar", type=click.Choice(["stop_first", "target_first"]), default="stop_first",
                     show_default=True, help="Which came first when a stop and a target lie inside one bar."),
        click.option("--gap-policy", type=click.Choice(["report", "refuse"]), default="report", show_default=True,
                     help="Missing bars: trade through and report them, or refuse to run."),
        click.option("--max-entries", type=int, default=1, show_default=True,
                     help="Entries into one position (above 1 allows scale-ins)."),
        click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                     help="Strategy parameter (repeatable)."),
        click.option("--risk", "risk", multiple=True, metavar="NAME=VALUE",
                     help="Risk limit override on top of the strategy's (repeatable; see atb strategies show)."),
        click.option("--no-risk", is_flag=True, help="No sizer and no risk manager: the strategy's raw sizes."),
        click.option("--sizer", help="Position sizer by name (requested, fixed_fraction, fixed_risk, ...)."),
        click.option("--sizer-param", "sizer_params", multiple=True, metavar="NAME=VALUE",
                     help="Sizer parameter (repeatable)."),
        click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Run on your own candles: CSV or CSV.gz, atb or Binance kline format."),
        click.option("--model-version", metavar="VERSION",
                     help="ML strategies: use this model version (atb models list). Default: the latest."),
        click.option("--model-as-of", metavar="DATE",
                     help="ML strategies: use the model version that was latest at this date (YYYY-MM-DD, UTC)."),
        click.option("--tick-size", callback=_exchange_rule, metavar="PRICE",
                     help="Exchange rule: price increment (default: bundled table, else inferred from the data)."),
        click.option("--step-size", callback=_exchange_rule, metavar="QUANTITY",
                     help="Exchange rule: quantity increment (default: bundled table, else inferred)."),
        click.option("--min-notional", callback=_exchange_rule, metavar="AMOUNT",
                     help="Exchange rule: smallest order value in the quote currency (default: bundled table, "
                          "else 5 for dollar quotes)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def build_request(ctx: click.Context, strategy: str, opts: dict[str, Any]) -> tuple[Any, BacktestRequest]:
    """The container and the request that ``atb backtest`` options describe."""
    settings = _settings(
        ctx,
        initial_balance=_decimal(opts["balance"]),
        fee_bps=_decimal(opts["fee_bps"]),
        slippage_bps=_decimal(opts["slippage_bps"]),
    )
    if strategy not in strategy_names():
        raise click.BadParameter(f"unknown strategy {strategy!r}; available: {', '.join(strategy_names())}",
                                 param_hint="--strategy")  # fmt: skip
    data_file: Path | None = opts["data_file"]
    symbols: tuple[str, ...] = opts["symbols"]
    timeframe: str | None = opts["timeframe"]
    if data_file is not None and len(symbols) > 1:
        raise click.BadParameter("a data file holds one symbol", param_hint="--symbol")
    container = build_container(
        {
            "mode": "backtest",
            "data_source": "file" if data_file else "bundled",
            "data_file": str(data_file) if data_file else None,
            "data_symbol": symbols[0] if symbols else None,
            "data_timeframe": timeframe,
            **container_settings(settings),
        }
    )
    if data_file is not None and not symbols:
        info = container.market_data().datasets()[0]
        syms = (info.symbol,)
        tf = info.timeframe if timeframe is None else Timeframe.parse(timeframe)
    else:
        syms = tuple(Symbol.parse(s) for s in (symbols or (settings.default_symbol,)))
        tf = Timeframe.parse(timeframe or settings.default_timeframe)
    allow_short = bool(opts["allow_short"])
    leverage = opts["leverage"]
    if leverage is None:
        hint = getattr(create_strategy(strategy, parse_params(opts["params"])), "account_leverage", 1.0)
        leverage = float(hint)
    request = BacktestRequest(
        strategy=strategy,
        symbols=syms,
        timeframe=tf,
        initial_cash=settings.initial_balance,
        params=parse_params(opts["params"]),
        start_ms=parse_date(opts["start"], "--start"),
        end_ms=parse_date(opts["end"], "--end"),
        simulation=SimulationSettings(
            fee_bps=settings.fee_bps,
            slippage_bps=settings.slippage_bps,
            volatility_slippage=opts["volatility_slippage"],
            allow_short=allow_short,
            leverage=_decimal(leverage) or Decimal(1),
            intrabar=opts["intrabar"],
        ),
        engine=EngineConfig(
            allow_short=allow_short,
            max_entries=opts["max_entries"],
            max_gross_exposure=float(leverage),
        ),
        gap_policy=opts["gap_policy"],
        risk=parse_params(opts["risk"], "--risk"),
        risk_global=settings.risk_layer(),
        risk_enabled=not opts["no_risk"],
        sizer=opts["sizer"],
        sizer_params=parse_params(opts["sizer_params"], "--sizer-param"),
        model_version=opts["model_version"],
        model_as_of_ms=parse_date(opts["model_as_of"], "--model-as-of"),
        instrument_overrides={k: opts[k] for k in ("tick_size", "step_size", "min_notional") if opts.get(k)},
    )
    return container, request


def run_with_progress(container: Any, request: BacktestRequest, quiet: bool) -> BacktestReport:
    err = console(stderr=True)
    update, close = progress_bar(err, enabled=err.is_terminal and not quiet)
    try:
        report: BacktestReport = container.run_backtest()(request, progress=update)
    finally:
        close()
    return report


@cli.group(invoke_without_command=True)
@click.option("--strategy", default=DEFAULT_STRATEGY, show_default=True, help="Strategy name (atb strategies list).")
@backtest_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (metrics and every trade).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML report to this file.")  # fmt: skip
@click.option("--save", is_flag=True,
              help="Save the session, its orders, fills, trades and account history (atb sessions list).")  # fmt: skip
@click.pass_context
def backtest(
    ctx: click.Context, strategy: str, as_json: bool, report_file: Path | None, save: bool, **opts: Any
) -> None:
    """Backtest a strategy on bundled candles or your own file and print the report.

    `atb backtest compare A B` runs two strategies on the same data side by side.
    """
    if ctx.invoked_subcommand is not None:
        return
    container, request = build_request(ctx, strategy, opts)
    started_ms = time.time_ns() // 1_000_000
    report = run_with_progress(container, request, quiet=as_json)
    if report_file is not None:
        write_html_report(report, report_file)
    if as_json:
        click.echo(report_json(report))
    else:
        print_report(console(), report)
        if report_file is not None:
            click.echo(f"report written to {report_file}")
    if save:
        model_version = ", ".join(report.model.values()) or None
        session_id = container.save_backtest()(report, started_ms=started_ms, model_version=model_version)
        click.echo(f"saved as session {session_id}: atb sessions show {session_id}", err=as_json)


@backtest.command("compare")
@click.argument("first")
@click.argument("second")
@backtest_options
@click.option("--json", "as_json", is_flag=True, help="Print both results as JSON.")
@click.pass_context
def backtest_compare(ctx: click.Context, first: str, second: str, as_json: bool, **opts: Any) -> None:
    """Run strategies FIRST and SECOND on the same data and print them side by side."""
    reports = []
    for name in (first, second):
        container, request = build_request(ctx, name, opts)
        reports.append(run_with_progress(container, request, quiet=as_json))
    if opts["start"] is None and opts["end"] is None:
        # An ML strategy without a range runs on its model's test period: run the other one there too.
        ranged = [r for r in reports if r.model]
        if ranged and len(ranged) < len(reports):
            req = ranged[0].request
            span = {**opts, "start": iso(req.start_ms) if req.start_ms is not None else None,
                    "end": iso(req.end_ms) if req.end_ms is not None else None}  # fmt: skip
            for i, report in enumerate(reports):
                if not report.model:
                    container, request = build_request(ctx, report.request.strategy, span)
                    reports[i] = run_with_progress(container, request, quiet=as_json)
    if as_json:
        click.echo(json.dumps({r.strategy_name: report_dict(r) for r in reports}, indent=2, allow_nan=False))
    else:
        print_comparison(console(), reports[0], reports[1])


cli.add_command(strategies)
cli.add_command(regime)
cli.add_command(db)
cli.add_command(sessions)
cli.add_command(models)
cli.add_command(train)


@cli.group()
def data() -> None:
    """Market data: what is bundled with atb."""


@data.command("list")
def data_list() -> None:
    """List the bundled datasets with their date ranges and bar counts."""
    container = build_container({"mode": "backtest"})
    print_datasets(console(), container.bundled_market_data().datasets())


def _fail(message: str, code: int, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the CLI and turns every error into one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="atb", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 130, debug)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        _fail(e.format_message().replace("\n", " "), EXIT_USAGE, debug)
    except (DomainError, ApplicationError, SettingsError) as e:
        _fail(str(e), EXIT_USER_ERROR, debug)
    except KeyboardInterrupt:
        _fail("interrupted", 130, debug)
    except Exception as e:  # a bug: still one line, the traceback with --debug
        _fail(f"unexpected {type(e).__name__}: {e} (run with --debug for the traceback)", EXIT_INTERNAL, debug)


if __name__ == "__main__":
    main()
