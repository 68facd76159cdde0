"""Backtests from Python and notebooks: :func:`backtest` runs one and returns a :class:`BacktestResult` of pandas
objects (docs/research.md; docs/adr/0019-research-api.md).

It lives in ``entrypoints`` because it wires adapters (bundled candles, a candle file, or DataFrames held in
memory) through the container, exactly as ``atb backtest`` does: the settings are checked by the CLI's own
helpers, the request is the CLI's ``BacktestRequest``, and ``BacktestResult.to_json()`` is what
``atb backtest --json`` prints (one code path, ``entrypoints.reports.records``).

    from entrypoints.research import backtest

    result = backtest("ema_trend", symbol="BTCUSDT", start="2020-01-01")
    result.metrics["total_return"], len(result.trades)
    result.equity.tail()
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from domain.strategies import DEFAULT_STRATEGY

if TYPE_CHECKING:
    from application.use_cases.run_backtest import BacktestReport
    from domain.strategies.strategy import Strategy

__all__ = ["BacktestResult", "backtest"]

# A CLI flag in a message, as the keyword argument of backtest() that sets it.
_ARGUMENTS = {
    "--strategy": "strategy", "--symbol": "symbol", "--data": "data", "--timeframe": "timeframe",
    "--start": "start", "--end": "end", "--balance": "balance", "--fee-bps": "fee_bps",
    "--slippage-bps": "slippage_bps", "--volatility-slippage": "volatility_slippage", "--leverage": "leverage",
    "--allow-short": "allow_short", "--intrabar": "intrabar", "--gap-policy": "gap_policy",
    "--max-entries": "max_entries", "--param": "params", "--risk": "risk", "--no-risk": "no_risk",
    "--sizer": "sizer", "--sizer-param": "sizer_params", "--model-version": "model_version",
    "--model-as-of": "model_as_of", "--allow-unverified-model": "allow_unverified_model",
    "--tick-size": "tick_size", "--step-size": "step_size", "--min-notional": "min_notional",
}  # fmt: skip
_FLAG = re.compile(r"--[a-z][a-z-]*")


def _in_python_terms(message: str) -> str:
    """A CLI message with each flag written as the keyword argument of :func:`backtest`."""
    return _FLAG.sub(lambda m: _ARGUMENTS.get(m.group(0), m.group(0)), message)


def _click_error(e: click.ClickException) -> ValueError:
    if isinstance(e, click.BadParameter) and e.param_hint is not None:
        hint = e.param_hint if isinstance(e.param_hint, str) else "/".join(e.param_hint)
        return ValueError(f"{_in_python_terms(hint)}: {_in_python_terms(e.message)}")
    return ValueError(_in_python_terms(e.format_message()))


def _text(value: Any) -> str:
    """A parameter value as the CLI would have been given it (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _items(values: Mapping[str, Any] | None, name: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, Mapping):
        raise ValueError(f"{name}: give a dict of name -> value, got {type(values).__name__}")
    return tuple(f"{key}={_text(value)}" for key, value in values.items())


def _when(value: str | date | datetime | pd.Timestamp | None, name: str) -> str | None:
    """A date or time as text ``parse_date`` reads (naive: UTC)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime | date):  # pd.Timestamp is a datetime
        return value.isoformat()
    raise ValueError(f"{name}: give a date (YYYY-MM-DD text, datetime.date, datetime or pandas Timestamp)")


def _frames(data: Any, symbol: str | Sequence[str] | None) -> dict[str, pd.DataFrame] | None:
    """The DataFrames of ``data`` keyed by symbol name, or None when ``data`` holds none."""
    if isinstance(data, pd.DataFrame):
        names = [symbol] if isinstance(symbol, str) else list(symbol or ())
        if len(names) != 1:
            raise ValueError("a DataFrame holds one symbol: name it, e.g. symbol='BTCUSDT' (several: a dict of "
                             "symbol -> DataFrame)")  # fmt: skip
        return {names[0]: data}
    if isinstance(data, Mapping):
        if symbol is not None:
            raise ValueError("the dict's keys name the symbols; leave symbol out")
        if not data:
            raise ValueError("data: the dict of DataFrames is empty")
        for key, frame in data.items():
            if not isinstance(frame, pd.DataFrame):
                raise ValueError(f"data[{key!r}]: expected a pandas DataFrame, got {type(frame).__name__}")
        return {str(k): v for k, v in data.items()}
    return None


def _files(data: Any) -> tuple[Path, ...]:
    if data is None:
        return ()
    if isinstance(data, str | Path):
        return (Path(data),)
    if isinstance(data, Sequence) and all(isinstance(d, str | Path) for d in data):
        if not data:
            raise ValueError("data: the list of files is empty")
        return tuple(Path(d) for d in data)
    raise ValueError(
        "data: give a candle file (path), a list of files, a pandas DataFrame, or a dict of symbol -> DataFrame; "
        f"got {type(data).__name__}"
    )


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """What :func:`backtest` returns: the run as pandas objects, and the report behind them.

    - ``trades``: one row per closed trade (a partial exit is a row of its own): ``symbol``, ``direction``,
      ``entry_time``/``exit_time`` (UTC Timestamps of the fills), ``entry_price``, ``exit_price``,
      ``quantity``, ``fees``, ``pnl`` (net of both sides' fees), ``return_pct``, ``exit_reason``, ``mfe`` and
      ``mae`` (best and worst excursion while open, fractions of the entry price: ``mfe >= 0 >= mae``),
      ``stop_initial`` (the stop attached at entry) and ``stop_last`` (the stop in force at the exit, moved by
      trailing or break-even rules); NaN where there was no stop.
    - ``equity``: one row per backtested bar, indexed by its open time (UTC): ``equity``, ``cash`` (the quote
      balance) and ``exposure`` (gross position value over equity) at its close.
    - ``denials``: the entries the risk rules, the engine or the venue refused or reduced: ``time``,
      ``symbol``, ``action`` (denied / reduced), ``rule``, ``reason``.
    - ``metrics``: a float Series, the keys of ``atb backtest``'s table (``total_return``, ``sharpe`` ...).
    - ``notes``: what the run wants you to know (gaps, warm-up, inferred exchange rules ...).
    - ``report``: the underlying ``BacktestReport``.
    """

    report: BacktestReport
    trades: pd.DataFrame
    equity: pd.DataFrame
    denials: pd.DataFrame
    metrics: pd.Series
    notes: list[str]
    _check_path: Callable[[Path], None]

    def html(self) -> str:
        """The self-contained HTML report (what ``atb backtest --report`` writes)."""
        from entrypoints.reports.html import render_html

        return render_html(self.report)

    def save_html(self, path: str | Path) -> Path:
        """Write the HTML report to ``path`` (atomically) and return it. Refused, like ``--report``, when the
        path is a directory, cannot be written, or is an input of the run (the data file, the database, the
        bundled data or the model registry)."""
        from entrypoints.cli.common import CliError
        from entrypoints.reports import write_html_report

        target = Path(path)
        try:
            self._check_path(target)
        except CliError as e:
            raise ValueError(_in_python_terms(str(e)).replace("--report ", "", 1)) from None
        write_html_report(self.report, target)
        return target

    def to_json(self) -> dict[str, Any]:
        """The dict ``atb backtest --json`` prints for the same run (docs/backtesting.md lists its keys)."""
        from entrypoints.reports.records import report_dict

        return report_dict(self.report)

    def __repr__(self) -> str:
        r = self.report
        total = r.metrics.get("total_return", float("nan"))
        return (
            f"BacktestResult({r.strategy_name} {r.strategy_version} on {', '.join(r.symbols)} "
            f"{r.request.timeframe.value}, {r.bars:,} bars, {len(r.trades)} trades, total_return {total:.2%})"
        )


def _result(report: BacktestReport, check_path: Callable[[Path], None]) -> BacktestResult:
    from entrypoints.reports.records import TRADE_COLUMNS, cash_curve, trade_dict

    trades = pd.DataFrame([trade_dict(t) for t in report.trades], columns=list(TRADE_COLUMNS))
    for column in ("entry_time", "exit_time"):
        trades[column] = pd.to_datetime(trades[column], utc=True)
    numeric = [c for c in TRADE_COLUMNS if c not in ("symbol", "direction", "exit_reason", "entry_time", "exit_time")]
    trades[numeric] = trades[numeric].astype("float64")  # None (no stop) -> NaN
    index = pd.DatetimeIndex(pd.to_datetime(report.open_time, unit="ms", utc=True), name="time")
    equity = pd.DataFrame(
        {"equity": report.equity, "cash": cash_curve(report), "exposure": report.exposure}, index=index
    )
    denials = pd.DataFrame(
        [(d.time_ms, d.symbol, d.action, d.rule, d.reason) for d in report.denials],
        columns=["time", "symbol", "action", "rule", "reason"],
    )
    denials["time"] = pd.to_datetime(denials["time"].astype("int64"), unit="ms", utc=True)
    metrics = pd.Series(report.metrics, dtype="float64", name="metrics")
    return BacktestResult(report, trades, equity, denials, metrics, list(report.notes), check_path)


def backtest(
    strategy: str | Strategy | type[Strategy] = DEFAULT_STRATEGY,
    data: str | Path | Sequence[str | Path] | pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    *,
    symbol: str | Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    timeframe: str | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    balance: float | None = None,
    fee_bps: float | None = None,
    slippage_bps: float | None = None,
    volatility_slippage: float = 0.0,
    leverage: float | None = None,
    allow_short: bool = False,
    intrabar: str = "stop_first",
    gap_policy: str = "report",
    max_entries: int = 1,
    risk: Mapping[str, Any] | None = None,
    no_risk: bool = False,
    sizer: str | None = None,
    sizer_params: Mapping[str, Any] | None = None,
    model_version: str | None = None,
    model_as_of: str | date | datetime | None = None,
    allow_unverified_model: bool = False,
    tick_size: float | str | Decimal | None = None,
    step_size: float | str | Decimal | None = None,
    min_notional: float | str | Decimal | None = None,
    env_file: str | Path | None = ".env",
    unchecked: bool = False,
) -> BacktestResult:
    """Run a backtest, as ``atb backtest`` would with the same settings, and return a :class:`BacktestResult`.

    ``strategy``: a name from ``atb strategies list`` or ``path/to/file.py:ClassName`` (with ``params``, a dict
    of its parameters), or a :class:`~domain.strategies.api.Strategy` class or instance defined in your notebook
    (an instance's parameters, under ``params``); like any user strategy it gets the fast look-ahead checks
    first and is refused if it leaks, unless ``unchecked`` (the report then says so). ``data``:
    None for the bundled candles of ``symbol`` (one name, or a list: a portfolio sharing one balance); a
    candle file (CSV or CSV.gz, atb or Binance kline format, read under the same caps as ``--data``) or a
    list of files (a portfolio, one symbol each; ``symbol`` names them in order, else their file names); a
    pandas DataFrame of candles (``symbol`` names it) or a dict of symbol -> DataFrame (a portfolio). A
    DataFrame has a ``DatetimeIndex`` or an ``open_time`` column (datetimes, or UTC milliseconds) and columns
    ``open, high, low, close, volume``; its rows must be finite, positive, in time order, without duplicates.

    The other arguments are the ``atb backtest`` options of the same name (``risk`` and ``sizer_params`` are
    dicts; ``start``/``end``: dates, UTC, ``end`` exclusive). Settings not given come, as for the CLI, from
    the defaults, ``env_file`` (None: none) and the ``ATB_*`` environment variables.

    Raises ``ValueError`` for an argument the CLI would refuse (the message names the argument), and atb's own
    errors (``MarketDataUnavailable``, ``ConfigurationError``, ``InvalidParameter`` ...) for what the run
    finds; a bad DataFrame raises ``InvalidFrame`` (a ``ValueError``) naming the row and the rule.
    """
    if not isinstance(strategy, str) and not _is_strategy(strategy):
        raise ValueError(
            "strategy: give a strategy name (atb strategies list), path.py:Class, or a Strategy class or instance "
            f"(domain.strategies.api), got {type(strategy).__name__}"
        )
    try:
        return _backtest(**locals())
    except click.ClickException as e:
        raise _click_error(e) from None


def _is_strategy(value: object) -> bool:
    from domain.strategies.strategy import Strategy as Base

    return isinstance(value, Base) or (isinstance(value, type) and issubclass(value, Base))


def _register(
    ctx: click.Context, strategy: Strategy | type[Strategy], params: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """A Strategy class or instance added to this run's catalog (checked like a user file): its name, and the
    parameters to run it with (an instance's own, under ``params``)."""
    import hashlib
    import inspect

    from domain.strategies.discovery import source_file
    from domain.strategies.registry import USER, Entry
    from entrypoints.cli.catalog import cli_strategies

    cls = strategy if isinstance(strategy, type) else type(strategy)
    given = {**(dict(strategy.params) if not isinstance(strategy, type) else {}), **dict(params or {})}
    catalog = cli_strategies(ctx).catalog
    if cls.name in catalog and catalog.entry(cls.name).cls is cls:
        return cls.name, given
    try:
        digest = hashlib.sha256(inspect.getsource(cls).encode("utf-8")).hexdigest()
    except (OSError, TypeError):
        digest = ""  # no source to hash (defined in an exec'd string): checked every time, never cached
    catalog.add(Entry(cls, USER, source_file(cls), digest))
    return cls.name, given


def _backtest(
    strategy: Any,
    data: Any,
    symbol: str | Sequence[str] | None,
    params: Mapping[str, Any] | None,
    timeframe: str | None,
    start: Any,
    end: Any,
    balance: float | None,
    fee_bps: float | None,
    slippage_bps: float | None,
    volatility_slippage: float,
    leverage: float | None,
    allow_short: bool,
    intrabar: str,
    gap_policy: str,
    max_entries: int,
    risk: Mapping[str, Any] | None,
    no_risk: bool,
    sizer: str | None,
    sizer_params: Mapping[str, Any] | None,
    model_version: str | None,
    model_as_of: Any,
    allow_unverified_model: bool,
    tick_size: Any,
    step_size: Any,
    min_notional: Any,
    env_file: str | Path | None,
    unchecked: bool,
) -> BacktestResult:
    from adapters.files import DataFrameMarketData
    from domain.model.symbols import Symbol
    from domain.model.timeframe import Timeframe
    from entrypoints.cli.main import (
        BALANCE,
        BPS,
        LEVERAGE,
        MAX_ENTRIES,
        VOLATILITY_SLIPPAGE,
        _exchange_rule,
        build_request,
        check_report_path,
        cli,
    )
    from entrypoints.cli.main import backtest as backtest_command
    from entrypoints.container import use_market_data
    from entrypoints.settings import load_settings

    def number(kind: click.ParamType[Any], value: Any, name: str) -> Any:
        if value is None:
            return None
        try:
            return kind.convert(value, None, None)
        except click.BadParameter as e:
            raise ValueError(f"{name}: {e.message}") from None

    def rule(value: Any, name: str) -> Decimal | None:
        if value is None:
            return None
        try:
            return _exchange_rule(None, None, str(value))  # type: ignore[arg-type]
        except click.BadParameter as e:
            raise ValueError(f"{name}: {e.message}") from None

    for option in backtest_command.params:  # the CLI's own choices
        if option.name in ("intrabar", "gap_policy") and isinstance(option.type, click.Choice):
            value, choices = {"intrabar": intrabar, "gap_policy": gap_policy}[option.name], option.type.choices
            if value not in choices:
                raise ValueError(f"{option.name}: {value!r} is not one of {', '.join(map(str, choices))}")
    for name, text in (("timeframe", timeframe), ("sizer", sizer), ("model_version", model_version)):
        if text is not None and not (isinstance(text, str) and text):
            raise ValueError(f"{name}: give a non-empty text value or leave it out, got {text!r}")
    names = [symbol] if isinstance(symbol, str) else list(symbol or ())
    if symbol is not None and (not names or not all(isinstance(n, str) and n for n in names)):
        raise ValueError(f"symbol: give a symbol name such as 'BTCUSDT', or a list of them; got {symbol!r}")
    frames = _frames(data, symbol)
    files = () if frames is not None else _files(data)
    symbols: tuple[str, ...] = (
        tuple(frames) if frames is not None else (symbol,) if isinstance(symbol, str) else tuple(symbol or ())
    )
    env = Path(env_file) if env_file is not None else Path("/dev/null")
    if env_file is not None and Path(env_file) != Path(".env") and not env.is_file():
        raise ValueError(f"env_file: {env_file}: no such file")
    # The settings read here, not by cli_settings: that would also configure the root logger, which is the
    # host's (a notebook's, an application's) to set up.
    settings = load_settings({}, env)
    ctx = click.Context(cli, obj={"overrides": {}, "env_file": env, "debug": False, "settings": settings})
    with ctx:  # the CLI's helpers find this context as click's current one
        if not isinstance(strategy, str):
            strategy, params = _register(ctx, strategy, params)
        source = None
        if frames is not None:
            tf = Timeframe.parse(timeframe) if timeframe is not None else None
            source = DataFrameMarketData(
                {Symbol.parse(name): frame for name, frame in frames.items()}, tf,
                max_rows=settings.max_data_rows,
            )  # fmt: skip
            found = {info.timeframe for info in source.datasets()}
            if len(found) > 1:
                held = ", ".join(f"{info.symbol} {info.timeframe.value}" for info in source.datasets())
                raise ValueError(f"data: the DataFrames hold different timeframes ({held}); a portfolio needs one")
            timeframe = found.pop().value
        opts: dict[str, Any] = {
            "symbols": symbols,
            "timeframe": timeframe,
            "start": _when(start, "start"),
            "end": _when(end, "end"),
            "balance": number(BALANCE, balance, "balance"),
            "fee_bps": number(BPS, fee_bps, "fee_bps"),
            "slippage_bps": number(BPS, slippage_bps, "slippage_bps"),
            "volatility_slippage": number(VOLATILITY_SLIPPAGE, volatility_slippage, "volatility_slippage"),
            "leverage": number(LEVERAGE, leverage, "leverage"),
            "allow_short": bool(allow_short),
            "intrabar": intrabar,
            "gap_policy": gap_policy,
            "max_entries": number(MAX_ENTRIES, max_entries, "max_entries"),
            "params": _items(params, "params"),
            "risk": _items(risk, "risk"),
            "no_risk": bool(no_risk),
            "sizer": sizer,
            "sizer_params": _items(sizer_params, "sizer_params"),
            "data_file": files,
            "model_version": model_version,
            "model_as_of": _when(model_as_of, "model_as_of"),
            "allow_unverified_model": bool(allow_unverified_model),
            "tick_size": rule(tick_size, "tick_size"),
            "step_size": rule(step_size, "step_size"),
            "min_notional": rule(min_notional, "min_notional"),
            "unchecked": bool(unchecked),
        }
        container, request = build_request(ctx, strategy, opts)
        if source is not None:
            use_market_data(container, source)
        report: BacktestReport = container.run_backtest()(request)

        def check_path(path: Path) -> None:
            check_report_path(ctx, path, opts, flag="--report")

        return _result(report, check_path)
