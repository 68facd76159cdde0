"""``atb``: the command line. Every user error is one line on stderr and a non-zero exit code.

Start-up is part of the product (``atb --help`` in well under 0.3 s, bench/startup.py): this module and the
command modules import only click and the standard library at the top; numpy, pandas, SQLAlchemy, pydantic and
the engine are imported inside the commands that use them.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from domain.strategies import DEFAULT_STRATEGY
from entrypoints.cli.common import (
    CliError,
    Finite,
    check_output_path,
    cli_settings,
    console,
    container_settings,
    iso,
    parse_date,
    parse_params,
)
from entrypoints.cli.exits import Interrupted, OutputError

if TYPE_CHECKING:
    from rich.console import Console

    from application.engine import ProgressCallback
    from application.use_cases.run_backtest import BacktestReport, BacktestRequest
    from domain.model.symbols import Symbol
    from domain.model.timeframe import Timeframe
    from domain.strategies.strategy import Strategy
    from entrypoints.settings import Settings

log = logging.getLogger("atb.cli")

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away


# The ranges of the numeric options (docs/adr/0016-numbers.md says why; docs/backtesting.md lists them).
MAX_BALANCE = 1e15  # the database keeps 20 integer digits (numeric(38,18)): 1e15 leaves 10^5x of growth
BALANCE = Finite(0, MAX_BALANCE, low_open=True)
BPS = Finite(0, 1000)  # 1000 bps = 10 % per side, as the settings allow
VOLATILITY_SLIPPAGE = Finite(0, 10)  # standard deviations of recent returns
LEVERAGE = Finite(0, 125, low_open=True)  # the most any venue offers (Binance futures: 125x)
MAX_ENTRIES = Finite(1, 100, integer=True)
RULE_MIN, RULE_MAX = Decimal("1e-18"), Decimal("1e15")  # 18 decimals stored; a rule above the largest balance


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
        number = Decimal(value.strip())
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not number.is_finite() or not RULE_MIN <= number <= RULE_MAX:
        raise click.BadParameter(f"must be a positive number in [{RULE_MIN:.0e}, {RULE_MAX:.0e}], got {value}")
    return number


def progress_bar(console: Console, enabled: bool) -> tuple[ProgressCallback | None, Callable[[], None]]:
    """A progress callback drawing on stderr (only on a terminal), and a function that closes it."""
    if not enabled:
        return None, lambda: None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("backtest"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} bars"),
        TimeRemainingColumn(), console=console, transient=True,
    )  # fmt: skip
    task = progress.add_task("bars", total=None)
    progress.start()

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update, progress.stop


class LazyGroup(click.Group):
    """A group whose subcommands in ``LAZY_COMMANDS`` are imported when they are run (or their help asked for),
    not when ``atb`` starts: ``atb --help`` lists them from their short help without importing any of them.

    ``tests/unit/entrypoints/test_cli_startup.py`` keeps each short help equal to its command's own.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, attribute, _ = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:  # before click's main sees it (it would exit 1): main() exits 141
            raise OutputClosed(str(e)) from e

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, click.Command(name, help=LAZY_COMMANDS[name][2]).get_short_help_str(limit)))
            else:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute, short help: the first line of the command's docstring)
    "db": ("entrypoints.cli.db", "db",
           "The database: DATABASE_URL (postgresql+psycopg2://...) or a SQLite file in the data directory."),
    "models": ("entrypoints.cli.models", "models",
               "Trained models: list, show, promote, roll back, delete (atb train makes them)."),
    "regime": ("entrypoints.cli.regime", "regime",
               "Share of each regime (trend up/sideways/down x volatility low/high) per UTC year."),
    "sessions": ("entrypoints.cli.sessions", "sessions", "Saved sessions: `atb backtest --save` records one."),
    "strategies": ("entrypoints.cli.strategies", "strategies",
                   "Strategies: list them, or show one's parameters and merged risk settings."),
    "train": ("entrypoints.cli.models", "train",
              "Train a CNN+LSTM model on bundled candles, export it to ONNX (parity checked), register it."),
}  # fmt: skip


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    # Read (and logging set up) when a command first needs them (cli_settings): one that reads none, such as
    # `atb strategies list`, starts without pydantic.
    given = ctx.get_parameter_source("env_file") is not click.core.ParameterSource.DEFAULT
    if given and (env_file.is_dir() or not env_file.exists()):
        # the default .env may be absent; one named on the command line must be there (/dev/null: none)
        reason = "is a directory" if env_file.is_dir() else "no such file"
        raise click.BadParameter(f"{env_file}: {reason}", param_hint="--env-file")
    overrides: dict[str, Any] = {"log_level": "DEBUG" if debug else log_level, "log_format": log_format}
    ctx.obj = {"overrides": overrides, "env_file": env_file, "debug": debug}


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    """The group's settings with this command's flags on top."""
    base = cli_settings(ctx)
    if not any(v is not None for v in flags.values()):
        return base
    from entrypoints.settings import load_settings

    return load_settings({**{k: v for k, v in flags.items() if v is not None}}, ctx.obj["env_file"])


def backtest_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``atb backtest`` and ``atb backtest compare``."""
    options = [
        click.option("--symbol", "symbols", multiple=True,
                     help="Symbol, e.g. BTCUSDT; repeat for a portfolio sharing one balance."),
        click.option("--timeframe", help="Candle timeframe, e.g. 1h (default: settings' default_timeframe)."),
        click.option("--start", help="First bar to trade, YYYY-MM-DD (UTC). Default: start of the data."),
        click.option("--end", help="End of the range, exclusive, YYYY-MM-DD (UTC). Default: end of the data."),
        click.option("--balance", type=BALANCE,
                     help="Starting balance in the quote currency, in (0, 1e15] (default 10000)."),
        click.option("--fee-bps", type=BPS, help="Fee per side in basis points, 0 to 1000 (default 10 = 0.1%)."),
        click.option("--slippage-bps", type=BPS,
                     help="Fixed slippage on market and stop fills, bps, 0 to 1000 (default 5)."),
        click.option("--volatility-slippage", type=VOLATILITY_SLIPPAGE, default=0.0, show_default=True,
                     help="Extra slippage: this many standard deviations of recent bar returns (0 to 10)."),
        click.option("--leverage", type=LEVERAGE,
                     help="Margin account leverage, in (0, 125] (default: what the strategy is designed for, "
                          "else 1)."),
        click.option("--allow-short", is_flag=True, help="Margin account: short entry signals open shorts."),
        click.option("--intrabar", type=click.Choice(["stop_first", "target_first"]), default="stop_first",
                     show_default=True, help="Which came first when a stop and a target lie inside one bar."),
        click.option("--gap-policy", type=click.Choice(["report", "refuse"]), default="report", show_default=True,
                     help="Missing bars: trade through and report them, or refuse to run."),
        click.option("--max-entries", type=MAX_ENTRIES, default=1, show_default=True,
                     help="Entries into one position, 1 to 100 (above 1 allows scale-ins)."),
        click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                     help="Strategy parameter (repeatable)."),
        click.option("--risk", "risk", multiple=True, metavar="NAME=VALUE",
                     help="Risk limit override on top of the strategy's (repeatable; see atb strategies show)."),
        click.option("--no-risk", is_flag=True, help="No sizer and no risk manager: the strategy's raw sizes."),
        click.option("--sizer", help="Position sizer by name (requested, fixed_fraction, fixed_risk, ...)."),
        click.option("--sizer-param", "sizer_params", multiple=True, metavar="NAME=VALUE",
                     help="Sizer parameter (repeatable)."),
        click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
                     help="Run on your own candles: CSV or CSV.gz, atb or Binance kline format; repeat for a "
                          "portfolio (one symbol per file)."),
        click.option("--model-version", metavar="VERSION",
                     help="ML strategies: use this model version (atb models list). Default: the latest."),
        click.option("--model-as-of", metavar="DATE",
                     help="ML strategies: use the model version that was latest at this date (YYYY-MM-DD, UTC)."),
        click.option("--unchecked", is_flag=True,
                     help="A user strategy: skip its look-ahead checks (the report then says it was not checked)."),
        click.option("--allow-unverified-model", is_flag=True,
                     help="ML strategies: use a model whose metadata lacks its training/validation ranges, feature "
                          "schema or data hash; every report then warns that the results may be in-sample."),
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


def _leveraged_strategies() -> list[str]:
    from domain.strategies.registry import create_strategy, strategy_names

    return [n for n in strategy_names() if create_strategy(n).extras().leverage is not None]


def _short_strategies() -> list[str]:
    from domain.strategies.registry import create_strategy, describe_params, strategy_names

    return [n for n in strategy_names() if "short" in describe_params(create_strategy(n))]


def _strategy(name: str, params: dict[str, str]) -> Strategy:
    """Strategy ``name`` (built-in, user, or ``path/to/file.py:ClassName``) with ``params``."""
    from entrypoints.cli.catalog import cli_strategies

    return cli_strategies().create(name, params)


def _builtin_names() -> list[str]:
    from domain.strategies.registry import strategy_names

    return strategy_names()


def _check_flags(settings: Settings, strategy: str, opts: dict[str, Any]) -> None:
    """Refuse, before any work, flags that could not take effect (docs/adr/0009-no-silent-drops.md)."""
    from domain.strategies.registry import describe_params
    from entrypoints.settings import SettingsError

    if settings.mode != "backtest":
        raise SettingsError(
            f"mode is {settings.mode!r} (ATB_MODE or TRADING_MODE): atb backtest runs backtests only, and "
            "live and paper trading are not available yet; unset it or set it to backtest"
        )
    if opts.get("unchecked") and strategy in _builtin_names():
        raise click.UsageError(f"--unchecked: {strategy} is built-in, checked by atb's own tests, not at each backtest")
    if opts["sizer_params"] and not opts["sizer"]:
        raise click.UsageError("--sizer-param needs --sizer NAME (the strategy's own sizer takes no parameters)")
    if opts["no_risk"]:
        given = [flag for flag, key in (("--risk", "risk"), ("--sizer", "sizer"), ("--sizer-param", "sizer_params"))
                 if opts[key]]  # fmt: skip
        if given:
            raise click.UsageError(f"--no-risk turns the sizer and the risk manager off; drop it or {'/'.join(given)}")
    if opts["max_entries"] is not None and opts["max_entries"] < 1:
        raise click.UsageError(f"--max-entries must be at least 1, got {opts['max_entries']}")
    instance = _strategy(strategy, parse_params(opts["params"]))
    params = describe_params(instance)
    if (opts["model_version"] or opts["model_as_of"]) and instance.model_type is None:
        raise click.UsageError(f"{strategy} uses no model; --model-version and --model-as-of apply to ML strategies")
    if opts["model_version"] is not None:  # a registry path: the one name rule (ADR 0015), before any data is read
        from application.names import check_name

        check_name("version", opts["model_version"])
    if opts.get("allow_unverified_model") and instance.model_type is None:
        raise click.UsageError(f"{strategy} uses no model; --allow-unverified-model applies to ML strategies")
    gross_cap = 1.0  # what the risk limits let a sizer reach (1: no more than the equity)
    if not opts["no_risk"]:  # unknown risk limits and sizers: refused now, not after the data is read
        from domain.risk import create_sizer, merge_layers

        overrides = dict(instance.extras().risk) or None
        limits = merge_layers(settings.risk_layer(), overrides, parse_params(opts["risk"], "--risk"))
        if opts["sizer"]:
            create_sizer(opts["sizer"], parse_params(opts["sizer_params"], "--sizer-param"))
            gross_cap = limits.max_gross_exposure
    shorts = bool(params.get("short", False))
    if opts["allow_short"] and not shorts:
        if "short" in params:
            raise click.UsageError(f"--allow-short: {strategy} opens shorts only with --param short=true")
        raise click.UsageError(f"--allow-short: {strategy} never shorts; strategies that can: "
                          f"{', '.join(_short_strategies())} (with --param short=true)")  # fmt: skip
    if shorts and not opts["allow_short"]:
        raise click.UsageError("--param short=true needs --allow-short (a margin account): a spot account refuses "
                               "every short")  # fmt: skip
    leverage = opts["leverage"]
    if leverage is not None:
        if not leverage > 0:
            raise click.UsageError(f"--leverage must be positive, got {leverage:g}")
        if leverage > 1 and instance.extras().leverage is None and not gross_cap > 1:
            raise click.UsageError(
                f"--leverage {leverage:g}: {strategy} never holds more than 1x equity, so leverage changes nothing; "
                f"strategies built for it: {', '.join(_leveraged_strategies())} (or use --sizer with --risk "
                "max_gross_exposure above 1)"
            )


def _files_symbols(container: Any, timeframe: str | None) -> tuple[tuple[Symbol, ...], Timeframe]:
    """The symbols of a portfolio of --data files (one per file) and their shared timeframe."""
    from domain.model.timeframe import Timeframe

    infos = container.market_data().datasets()
    if timeframe is not None:
        return tuple(info.symbol for info in infos), Timeframe.parse(timeframe)
    found = {info.timeframe for info in infos}
    if len(found) > 1:
        held = ", ".join(f"{info.source} {info.timeframe.value}" for info in infos)
        raise click.BadParameter(f"the files hold different timeframes ({held}); a portfolio needs one",
                                 param_hint="--data")  # fmt: skip
    return tuple(info.symbol for info in infos), found.pop()


def build_request(ctx: click.Context, strategy: str, opts: dict[str, Any]) -> tuple[Any, BacktestRequest]:
    """The container and the request that ``atb backtest`` options describe."""
    from application.assembler import account_leverage
    from application.engine import EngineConfig
    from application.ports.simulation import SimulationSettings
    from application.use_cases.run_backtest import BacktestRequest
    from domain.model.symbols import Symbol
    from domain.model.timeframe import Timeframe
    from entrypoints.cli.catalog import cli_strategies
    from entrypoints.container import build_container

    settings = _settings(
        ctx,
        initial_balance=_decimal(opts["balance"]),
        fee_bps=_decimal(opts["fee_bps"]),
        slippage_bps=_decimal(opts["slippage_bps"]),
    )
    strategies = cli_strategies(ctx)
    strategy = strategies.resolve(strategy)  # a user strategy's name, or path.py:Class loaded now
    strategies.warn_broken()
    _check_flags(settings, strategy, opts)
    data_files: tuple[Path, ...] = tuple(opts["data_file"] or ())
    data_file = data_files[0] if len(data_files) == 1 else None
    symbols: tuple[str, ...] = opts["symbols"]
    timeframe: str | None = opts["timeframe"]
    if data_file is not None and len(symbols) > 1:
        raise click.BadParameter("a data file holds one symbol", param_hint="--symbol")
    if len(data_files) > 1 and symbols and len(symbols) != len(data_files):
        raise click.BadParameter(f"{len(data_files)} --data files and {len(symbols)} symbols: give one --symbol "
                                 "per file, in the same order, or none", param_hint="--symbol")  # fmt: skip
    container = build_container(
        {
            "mode": "backtest",
            "data_source": "files" if len(data_files) > 1 else "file" if data_file else "bundled",
            "data_file": str(data_file) if data_file else None,
            "data_symbol": symbols[0] if symbols else None,
            "data_files": [str(f) for f in data_files],
            "data_symbols": list(symbols) or None,
            "data_timeframe": timeframe,
            **container_settings(settings),
            "strategy_catalog": strategies.catalog,
        }
    )
    if len(data_files) > 1:
        syms, tf = _files_symbols(container, timeframe)
    elif data_file is not None and not symbols:
        info = container.market_data().datasets()[0]
        syms = (info.symbol,)
        tf = info.timeframe if timeframe is None else Timeframe.parse(timeframe)
    else:
        syms = tuple(Symbol.parse(s) for s in (symbols or (settings.default_symbol,)))
        tf = Timeframe.parse(timeframe or settings.default_timeframe)
    allow_short = bool(opts["allow_short"])
    leverage = account_leverage(_strategy(strategy, parse_params(opts["params"])), opts["leverage"])
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
        allow_unverified_model=bool(opts.get("allow_unverified_model")),
        unchecked=bool(opts.get("unchecked")),
    )
    return container, request


def check_report_path(ctx: click.Context, path: Path, opts: dict[str, Any], flag: str = "--report") -> None:
    """Refuse, before the backtest, a report file that cannot be written or would overwrite an input."""
    settings = cli_settings(ctx)
    data_files = opts.get("data_file") or ()
    protected: dict[str, Path | None] = {
        f"--data file{'' if len(data_files) == 1 else ' ' + str(i + 1)}": Path(f) for i, f in enumerate(data_files)
    }
    database = settings.sqlite_path()
    protected["database file"] = database
    for suffix in ("-wal", "-shm", "-journal"):  # SQLite's own files beside the database
        protected[f"database's {suffix[1:]} file"] = Path(f"{database}{suffix}") if database is not None else None
    protected["settings file (--env-file)"] = (ctx.find_root().obj or {}).get("env_file")
    from entrypoints.container import bundled_input_dirs

    folders: dict[str, Path | None] = {"model registry": settings.models_root(), **bundled_input_dirs()}
    check_output_path(path, flag, protected, folders)


def write_report(write: Callable[[Any, Path], None], content: Any, path: Path) -> None:
    """An HTML report; a failure to write it (disk full, permissions changed) is one line, exit 1."""
    try:
        write(content, path)
    except OSError as e:
        raise CliError(f"cannot write the report to {path}: {e.strerror or e}") from e


def run_with_progress(container: Any, request: BacktestRequest, quiet: bool) -> BacktestReport:
    err = console(stderr=True)
    update, close = progress_bar(err, enabled=err.is_terminal and not quiet)
    try:
        report: BacktestReport = container.run_backtest()(request, progress=update)
    except Exception as e:  # a user strategy's own bug is one line naming its file and line (exit 1)
        from entrypoints.cli.catalog import user_code_error

        mine = user_code_error(container.strategies(), request.strategy, e)
        if mine is None:
            raise
        raise mine from e
    finally:
        close()
    return report


@cli.group(invoke_without_command=True)
@click.option("--strategy", default=DEFAULT_STRATEGY, show_default=True, metavar="NAME|FILE.py:CLASS",
              help="Name (atb strategies list: built-in or yours) or path/to/file.py:ClassName.")  # fmt: skip
@backtest_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (metrics and every trade).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML report to this file.")  # fmt: skip
@click.option("--save", is_flag=True,
              help="Save the session, its orders, fills, trades and account history (atb sessions list).")  # fmt: skip
@click.pass_context
def backtest(
    ctx: click.Context, /, strategy: str, as_json: bool, report_file: Path | None, save: bool, **opts: Any
) -> None:
    """Backtest a strategy on bundled candles or your own file and print the report.

    `atb backtest compare A B` runs two strategies on the same data side by side.
    """
    if ctx.invoked_subcommand is not None:
        return
    from entrypoints.cli.render import print_report, report_json
    from entrypoints.reports import write_html_report

    container, request = build_request(ctx, strategy, opts)
    if report_file is not None:
        check_report_path(ctx, report_file, opts)
    if save:  # before the work: a database at another revision is one line now, not after the backtest
        container.database().require_current()
    started_ms = time.time_ns() // 1_000_000
    report = run_with_progress(container, request, quiet=as_json)
    if report_file is not None:
        write_report(write_html_report, report, report_file)
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


@dataclass(frozen=True, slots=True)
class CompareSide:
    """One side of ``atb backtest compare``: a strategy and its ``--param`` items (the shared ones, then its own)."""

    number: int  # 1-based position on the command line
    label: str  # unique among the sides
    strategy: str
    params: tuple[str, ...]  # NAME=VALUE items; a later item wins, so the side's own override the shared ones
    own: dict[str, str]  # this side's --side-param values


def parse_sides(
    strategies: tuple[str, ...], side_params: tuple[str, ...], shared: tuple[str, ...]
) -> list[CompareSide]:
    """The sides of a comparison: ``--side-param K:NAME=VALUE`` gives side K (1-based) its own value.

    Labels are the strategy names; a name given more than once gets its own parameters in parentheses, and
    sides still alike get ``#K``.
    """
    if len(strategies) < 2:
        raise click.UsageError(
            "compare needs two or more strategies, e.g. atb backtest compare ema_trend ema_cross "
            "(the same one twice with --side-param K:NAME=VALUE to compare parameters)"
        )
    n = len(strategies)
    own_items: list[list[str]] = [[] for _ in strategies]
    for item in side_params:
        key, sep, rest = item.partition(":")
        number = int(key) if key.strip().isdigit() else 0
        if not sep or not 1 <= number <= n or "=" not in rest:
            raise click.BadParameter(
                f"{item!r}: write SIDE:NAME=VALUE with SIDE the strategy's position, 1 to {n}",
                param_hint="--side-param",
            )
        own_items[number - 1].append(rest)
    own = [parse_params(tuple(items), "--side-param") for items in own_items]
    counts = Counter(strategies)
    labels = []
    for name, mine in zip(strategies, own, strict=True):
        given = ",".join(f"{k}={v}" for k, v in mine.items())
        labels.append(f"{name}({given})" if counts[name] > 1 and mine else name)
    taken = Counter(labels)
    labels = [f"{label}#{i}" if taken[label] > 1 else label for i, label in enumerate(labels, start=1)]
    return [
        CompareSide(i, label, name, (*shared, *items), mine)
        for i, (label, name, items, mine) in enumerate(zip(labels, strategies, own_items, own, strict=True), start=1)
    ]


def _run_sides(ctx: click.Context, sides: list[CompareSide], opts: dict[str, Any], quiet: bool) -> list[BacktestReport]:
    """Run every side on the same data; without a range, an ML side's model test period is everyone's range."""
    from domain.model.errors import InvalidParameter
    from entrypoints.cli.catalog import cli_strategies

    strategies = cli_strategies(ctx)
    for side in sides:  # a bad strategy or parameter stops the comparison before any run
        name = strategies.resolve(side.strategy, hint=f"side {side.number}")
        try:
            strategies.catalog.create(name, parse_params(side.params))
        except InvalidParameter as e:
            raise InvalidParameter(f"side {side.number} ({side.label}): {e}") from e
    span: dict[str, Any] | None = None
    reports: list[BacktestReport | None] = []
    for side in sides:
        side_opts = {**opts, **(span or {}), "params": side.params}
        container, request = build_request(ctx, side.strategy, side_opts)
        report = run_with_progress(container, request, quiet=quiet)
        if span is None and report.model and opts["start"] is None and opts["end"] is None:
            req = report.request
            span = {"start": iso(req.start_ms) if req.start_ms is not None else None,
                    "end": iso(req.end_ms) if req.end_ms is not None else None}  # fmt: skip
            # the plain sides already run go again on the model's test period
            reports = [None if r is not None and not r.model else r for r in reports]
        reports.append(report)
    for i, side in enumerate(sides):
        if reports[i] is None:
            container, request = build_request(ctx, side.strategy, {**opts, **(span or {}), "params": side.params})
            reports[i] = run_with_progress(container, request, quiet=quiet)
    return [r for r in reports if r is not None]


@backtest.command("compare")
@click.argument("names", nargs=-1, metavar="STRATEGY STRATEGY...")
@click.option("--side-param", "side_params", multiple=True, metavar="K:NAME=VALUE",
              help="Strategy parameter for the K-th strategy only (1-based; repeatable); overrides --param.")
@backtest_options
@click.option("--json", "as_json", is_flag=True, help="Print every side as JSON (label, strategy, params, report).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one HTML report with the sides overlaid to this file.")  # fmt: skip
@click.pass_context
def backtest_compare(
    ctx: click.Context,
    /,
    names: tuple[str, ...],
    side_params: tuple[str, ...],
    as_json: bool,
    report_file: Path | None,
    **opts: Any,
) -> None:
    """Run two or more strategies on the same data and print them side by side.

    `--param` applies to every side; `--side-param K:NAME=VALUE` to the K-th only (it wins), so one
    strategy can be compared with itself: `atb backtest compare ema_trend ema_trend --side-param 2:fast=20`.
    """
    from entrypoints.cli.render import print_comparison, report_dict
    from entrypoints.reports import write_comparison_report

    sides = parse_sides(names, side_params, opts["params"])
    if report_file is not None:
        check_report_path(ctx, report_file, opts)
    reports = _run_sides(ctx, sides, opts, quiet=as_json)
    labelled = [(side.label, report) for side, report in zip(sides, reports, strict=True)]
    if report_file is not None:
        write_report(write_comparison_report, labelled, report_file)
    if as_json:
        out = {
            "sides": [
                {"label": side.label, "strategy": side.strategy, "params": parse_params(side.params),
                 "side_params": side.own, "report": report_dict(report)}
                for side, report in zip(sides, reports, strict=True)
            ]
        }  # fmt: skip
        click.echo(json.dumps(out, indent=2, allow_nan=False))
    else:
        print_comparison(console(), labelled)
        if report_file is not None:
            click.echo(f"report written to {report_file}")




@cli.group()
def data() -> None:
    """Market data: what is bundled with atb."""


@data.command("list")
@click.pass_context
def data_list(ctx: click.Context) -> None:
    """List the bundled datasets with their date ranges and bar counts."""
    from entrypoints.cli.render import print_datasets
    from entrypoints.container import build_container

    container = build_container({"mode": "backtest", **container_settings(cli_settings(ctx))})
    print_datasets(console(), container.bundled_market_data().datasets())


def _fail(message: str, code: int, debug: bool) -> None:
    # The line and the --debug traceback go through the one redaction rule (application/redaction.py): a
    # driver's or a parser's message may quote a URL or a secret (docs/adr/0013-secrets.md).
    from application.redaction import redact_text
    from entrypoints.logging_setup import known_secrets

    secrets = known_secrets()
    if debug:
        click.echo(redact_text(traceback.format_exc(), secrets), err=True, nl=False)
    click.echo(f"error: {redact_text(message, secrets)}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the CLI and turns every error into one line and an exit code
    (the exit contract: docs/adr/0017-exit-contract.md)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        _refuse_empty_arguments(args)
        cli.main(args=args, prog_name="atb", standalone_mode=False)
        sys.stdout.flush()  # a full disk or a closed pipe on stdout shows here, not in the interpreter's exit
    except click.exceptions.Abort as e:
        if isinstance(e.__cause__, KeyboardInterrupt):  # click's own Ctrl-C handling (no handler installed)
            _fail("interrupted", EXIT_INTERRUPTED, debug)
        _fail("aborted", EXIT_USER_ERROR, debug)  # a prompt declined or closed (end of input)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.NoArgsIsHelpError as e:  # a group without its subcommand: its help, no error
        try:
            click.echo(e.ctx.get_help())
        except OSError as error:
            _fail(_os_error(error), EXIT_USER_ERROR, debug)
        sys.exit(0)
    except click.ClickException as e:
        _fail(e.format_message().replace("\n", " "), EXIT_USAGE, debug)
    except (KeyboardInterrupt, Interrupted):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _discard_stdout()  # half an output is no output; and a stalled reader must not hold the exit
        _fail("interrupted", EXIT_INTERRUPTED, debug)
    except (OutputClosed, BrokenPipeError):  # `atb ... | head`: the reader has gone; nothing to say
        _discard_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception as e:
        if isinstance(e, _user_errors()):
            _fail(str(e), EXIT_USER_ERROR, debug)
        if isinstance(e, OSError):  # the machine refused (full disk, permissions, a file that is a directory)
            _fail(_os_error(e), EXIT_USER_ERROR, debug)
        # a bug: still one line, the traceback with --debug
        _fail(f"this is a bug, please report it: {type(e).__name__}: {e} (run with --debug for the traceback)",
              EXIT_INTERNAL, debug)  # fmt: skip


class OutputClosed(Exception):
    """Standard output was closed by its reader (a ``BrokenPipeError`` taken out of click's hands: click would
    exit 1 for it)."""


def _refuse_empty_arguments(args: list[str]) -> None:
    """An empty argument (``--timeframe ''``, ``--timeframe=``) is an error, never "use the default"."""
    for i, arg in enumerate(args):
        if arg == "--":
            return
        if arg == "":
            before = args[i - 1] if i > 0 and args[i - 1].startswith("-") else None
            where = f"after {before}" if before else f"(argument {i + 1})"
            raise click.UsageError(f"an empty value {where}: give a value or leave the option out")
        if arg.startswith("--") and arg.endswith("=") and len(arg) > 3:
            raise click.UsageError(f"an empty value in {arg}: give a value or leave the option out")


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so what is still buffered cannot fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (captured in-process)
        pass


def _os_error(error: OSError) -> str:
    """One line for an ``OSError`` no command turned into its own message."""
    reason = error.strerror or str(error) or type(error).__name__
    if isinstance(error, OutputError):  # standard output (``> /dev/full``): what is buffered cannot go anywhere
        _discard_stdout()
        return f"cannot write the output: {reason}"
    if error.filename is None:
        return reason
    names = " -> ".join(str(n) for n in (error.filename, error.filename2) if n is not None)
    return f"{names}: {reason}"


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors that are the user's (one line, exit 1). Imported here, after the fact: whatever raised one
    has imported its module already, so this costs nothing, and start-up does not pay for them."""
    from application.ports.errors import ApplicationError
    from domain.model.errors import DomainError
    from entrypoints.settings import SettingsError

    return (DomainError, ApplicationError, SettingsError, CliError)


if __name__ == "__main__":
    main()
