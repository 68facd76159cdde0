"""Run a backtest: candles -> (model predictions ->) strategy signals -> the engine -> metrics."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from application.assembler import Assembler, Market
from application.batch import collector_paused
from application.engine import Denial, EngineConfig, ProgressCallback
from application.ml import (
    LoadedModel,
    split_range,
)
from application.ports.errors import ConfigurationError, MarketDataUnavailable
from application.ports.instruments import INFERRED, OVERRIDDEN, InstrumentRules, Instruments
from application.ports.market_data import MarketData
from application.ports.models import ModelRegistry, PredictorFactory
from application.ports.sentiment import Sentiment
from application.ports.simulation import SimulationSettings, SimulatorFactory
from application.use_cases.check_strategy import UNCHECKED_NOTE, CheckStrategy
from domain.metrics import PerformanceTracker
from domain.model.candles import CandleSeries, FloatArray, GapReport, IntArray
from domain.model.market import MarketFrame
from domain.model.orders import Fill
from domain.model.positions import Position
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.model.trades import Trade
from domain.risk import (
    RiskEvent,
    describe_sizer,
)
from domain.strategies.base import Signals
from domain.strategies.registry import (
    BUILT_IN,
    Catalog,
    builtin_catalog,
    describe_params,
)
from domain.strategies.strategy import Context, Strategy

GAP_POLICIES = ("report", "refuse")
MAX_INITIAL_CASH = Decimal("1e15")  # the database keeps 20 integer digits: 10^5x of growth (docs/adr/0016-numbers.md)
INSTRUMENT_OVERRIDES = ("tick_size", "step_size", "min_notional")  # what --tick-size ... may set


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """A backtest to run. Times are UTC ms, ``[start_ms, end_ms)``; ``None`` means all the data.

    Several symbols share one cash balance. Indicators warm up on bars before ``start_ms`` when the data
    has them, so the first decision can be taken on the first bar of the range. ``gap_policy``: ``report``
    trades through missing bars and reports them, ``refuse`` stops with an error naming the largest gap.

    A strategy that trades on a model (``ml_basic`` ...) uses each symbol's model of its type from the
    registry: ``model_version`` pins a version, ``model_as_of_ms`` takes the version that was ``latest`` then,
    neither takes ``latest`` now. With no range given, such a backtest covers the model's out-of-sample test
    period.
    """

    strategy: str
    symbols: tuple[Symbol, ...]
    timeframe: Timeframe
    initial_cash: Decimal
    params: dict[str, str] = field(default_factory=dict)
    start_ms: int | None = None
    end_ms: int | None = None
    simulation: SimulationSettings = field(default_factory=SimulationSettings)
    engine: EngineConfig = field(default_factory=EngineConfig)
    gap_policy: str = "report"
    risk: dict[str, str] = field(default_factory=dict)  # overrides on top of the strategy's (CLI --risk)
    risk_global: dict[str, str] = field(default_factory=dict)  # settings' overrides, under the strategy's
    risk_enabled: bool = True  # False: no sizer, no risk manager (the strategy's raw sizes)
    sizer: str | None = None  # a sizer by name instead of the strategy's own
    sizer_params: dict[str, str] = field(default_factory=dict)
    model_version: str | None = None  # the model version a predictive strategy uses (None: see model_as_of_ms)
    model_as_of_ms: int | None = None  # the version that was latest at this time (UTC ms; None: latest now)
    # Exchange rules set by hand (tick_size, step_size, min_notional), over the table's or the inferred ones.
    instrument_overrides: dict[str, Decimal] = field(default_factory=dict)
    # Use a model whose metadata lacks its provenance (application.ml.PROVENANCE); every report then warns.
    allow_unverified_model: bool = False
    # A user strategy runs without its look-ahead checks (CLI --unchecked); the report then says so.
    unchecked: bool = False

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ConfigurationError("name at least one symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigurationError("a symbol is named twice")
        if not (self.initial_cash.is_finite() and 0 < self.initial_cash <= MAX_INITIAL_CASH):
            raise ConfigurationError(
                f"starting balance must be positive and at most {MAX_INITIAL_CASH:.0e}, got {self.initial_cash}"
            )
        sim = self.simulation
        numbers = (sim.fee_bps, sim.slippage_bps, Decimal(repr(float(sim.volatility_slippage))), sim.leverage)
        if not all(n.is_finite() for n in numbers):  # NaN or inf, whatever built the request
            raise ConfigurationError("fees, slippage and leverage must be finite numbers")
        if sim.fee_bps < 0 or sim.slippage_bps < 0 or sim.volatility_slippage < 0:
            raise ConfigurationError("fees and slippage cannot be negative")
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ConfigurationError("the start date must be before the end date")
        if self.gap_policy not in GAP_POLICIES:
            raise ConfigurationError(f"gap policy must be one of {', '.join(GAP_POLICIES)}")
        if self.engine.allow_short and not sim.allow_short:
            raise ConfigurationError("short entries need an account that allows short selling")
        if self.model_version is not None and self.model_as_of_ms is not None:
            raise ConfigurationError("pin the model by version or by date, not both")
        for name, value in self.instrument_overrides.items():
            if name not in INSTRUMENT_OVERRIDES:
                raise ConfigurationError(f"unknown exchange rule {name!r}; known: {', '.join(INSTRUMENT_OVERRIDES)}")
            if not value.is_finite() or value <= 0:
                raise ConfigurationError(f"{name.replace('_', ' ')} must be a positive number, got {value}")
        if self.instrument_overrides and len(self.symbols) > 1:
            raise ConfigurationError("exchange rules set by hand apply to one symbol; run one symbol at a time")


@dataclass(frozen=True, slots=True, eq=False)
class BacktestReport:
    """Everything a person or a machine wants to see after a backtest.

    Arrays share the backtested rows: ``open_time`` (UTC ms), ``closes[symbol]`` (NaN where the symbol has
    no bar), ``equity`` and ``exposure`` marked at each close, ``benchmark`` the equal-weight buy-and-hold
    equity from the same starting balance.
    """

    request: BacktestRequest
    strategy_name: str
    strategy_version: str
    strategy_params: dict[str, Any]
    open_time: IntArray
    closes: dict[str, FloatArray]
    equity: FloatArray
    exposure: FloatArray
    benchmark: FloatArray
    trades: list[Trade]
    denials: list[Denial]
    metrics: dict[str, float]
    gaps: dict[str, GapReport]
    zero_volume_bars: dict[str, int]
    warmup_bars_used: int
    open_positions: dict[str, Position]
    notes: list[str]
    risk_limits: dict[str, object] = field(default_factory=dict)  # the merged limits the run used ({}: off)
    sizer: dict[str, object] = field(default_factory=dict)
    cash: FloatArray | None = None  # quote balance at each bar's close (equity minus positions' value)
    fills: list[Fill] = field(default_factory=list)  # every execution, in time order (orders are saved from them)
    model: dict[str, str] = field(default_factory=dict)  # symbol -> the model used, "SYMBOL/TYPE/VERSION"
    risk_events: list[RiskEvent] = field(default_factory=list)  # the drawdown breaker's trips and resets
    # symbol -> the exchange rules traded under: tick_size, step_size, min_notional (exact decimal text),
    # source (bundled / inferred / overridden / simulator), detail, overridden (the rules set by hand)
    instruments: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def bars(self) -> int:
        return int(self.open_time.shape[0])

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.closes)


class RunBacktest:
    """The backtest use case. Needs a ``MarketData`` source and a way to build a simulated broker; strategies
    that trade on a model also need the model registry, a predictor factory and (for sentiment models) a
    sentiment source."""

    def __init__(
        self,
        market_data: MarketData,
        simulator: SimulatorFactory,
        models: ModelRegistry | None = None,
        predictors: PredictorFactory | None = None,
        sentiment: Sentiment | None = None,
        instruments: Instruments | None = None,
        strategies: Catalog | None = None,
        checks: CheckStrategy | None = None,
    ) -> None:
        self._checks = checks
        self._strategies = strategies if strategies is not None else builtin_catalog()
        self._market_data = market_data
        self._instruments = instruments
        self._assembler = Assembler(
            simulator, strategies=self._strategies, models=models, predictors=predictors, sentiment=sentiment
        )

    def __call__(self, request: BacktestRequest, progress: ProgressCallback | None = None) -> BacktestReport:
        with collector_paused():  # the whole run: candles, signals, the engine, trades and metrics
            return self._run(request, progress)

    def _run(self, request: BacktestRequest, progress: ProgressCallback | None) -> BacktestReport:
        assembler = self._assembler
        strategy = assembler.strategy(request)
        notes: list[str] = []
        self._gate(request, strategy, notes)
        models = assembler.models(request, strategy)
        request = self._model_range(request, models, notes)
        market, period_gaps, zero_volume = self._market(request, strategy, notes)
        fulls, histories, frame, start = market.fulls, market.histories, market.frame, market.start
        rules = self._rules(request, fulls, notes)
        run = assembler.assemble(request, strategy, market, models, notes, [r.instrument for r in rules] or None)
        instruments = _describe_rules(request, rules, [run.broker.instrument(s) for s in request.symbols])
        signals, sizer, limits, engine = run.signals, run.sizer, run.limits, run.engine
        result = engine.run(start=start, progress=progress)
        if not result.fills:
            notes.append(_why_no_trade(strategy, histories, signals, int(frame.open_time[start]), result.denials,
                                       None if models else fulls))  # fmt: skip
        equity = result.equity[start:]
        marks = frame.mark[start:]
        benchmark = _equal_weight(marks, float(request.initial_cash))
        # The same tracker a live session keeps bar by bar, here filled with the whole run at once.
        tracker = PerformanceTracker.from_arrays(
            request.timeframe.periods_per_year,
            frame.open_time[start:],
            equity,
            result.exposure[start:],
            trades=result.trades,
            fees_paid=result.fees_paid,
            slippage_paid=result.slippage_paid,
            initial_equity=float(request.initial_cash),
        )
        metrics = tracker.snapshot(benchmark_close=benchmark)
        positions = result.portfolio.positions
        return BacktestReport(
            request=request,
            strategy_name=strategy.name,
            strategy_version=strategy.version,
            strategy_params=describe_params(strategy),
            open_time=frame.open_time[start:],
            closes={str(s): frame.close[start:, j] for j, s in enumerate(frame.symbols)},
            equity=equity,
            exposure=result.exposure[start:],
            benchmark=benchmark,
            trades=result.trades,
            denials=result.denials,
            metrics=metrics,
            gaps=period_gaps,
            zero_volume_bars=zero_volume,
            warmup_bars_used=start,
            open_positions={str(s): p for s, p in positions.items() if not p.is_flat},
            notes=notes,
            cash=result.cash[start:],
            fills=result.fills,
            risk_limits=limits.describe() if limits is not None else {},
            sizer=describe_sizer(sizer) if sizer is not None else {},
            model={symbol: str(m.info.ref) for symbol, m in models.items()},
            risk_events=result.risk_events,
            instruments=instruments,
        )

    def _market(
        self, request: BacktestRequest, strategy: Strategy, notes: list[str]
    ) -> tuple[Market, dict[str, GapReport], dict[str, int]]:
        """The candles of the run (each symbol's history, its warm-up kept before the range, aligned), and each
        symbol's gaps and zero-volume bars over the range (refused by the ``refuse`` gap policy)."""
        fulls = [self._load(request, s) for s in request.symbols]
        firsts = [self._first_row(request, h, strategy, notes) for h in fulls]
        histories = [h.slice(first, len(h)) if first else h for h, first in zip(fulls, firsts, strict=True)]
        frame = MarketFrame.align(histories)
        start = 0 if request.start_ms is None else frame.start_row(request.start_ms)
        if len(frame) - start < 2:
            raise MarketDataUnavailable("the range holds fewer than two bars; widen --start/--end")
        period_gaps = {}
        zero_volume = {}
        for s in histories:
            first = int(np.searchsorted(s.open_time, frame.open_time[start]))
            part = s.slice(first, len(s))
            period_gaps[str(s.symbol)] = part.gaps()
            zero_volume[str(s.symbol)] = int(np.count_nonzero(part.volume == 0))
            self._check_gaps(request, part, period_gaps[str(s.symbol)])
        return Market(fulls, firsts, histories, frame, start), period_gaps, zero_volume

    def _gate(self, request: BacktestRequest, strategy: Strategy, notes: list[str]) -> None:
        """A user strategy passes the fast look-ahead checks first (LeakyStrategy if not), unless unchecked."""
        entry = self._strategies.entry(request.strategy)
        if entry.origin == BUILT_IN:
            return
        if request.unchecked or self._checks is None:
            notes.insert(0, UNCHECKED_NOTE.format(name=strategy.name))
        else:
            self._checks.gate(entry, strategy.params)

    def _rules(
        self, request: BacktestRequest, histories: Sequence[CandleSeries], notes: list[str]
    ) -> list[InstrumentRules]:
        """Each symbol's exchange rules: the venue's table, else inferred from its candles (said in a note),
        with the rules set by hand on top. Empty without an ``Instruments`` source (the simulator decides)."""
        if self._instruments is None:
            return []
        out = []
        overrides = request.instrument_overrides
        for history in histories:
            found = self._instruments.instrument(history.symbol, history)
            base = found.instrument
            instrument = Instrument(
                base.symbol,
                overrides.get("tick_size", base.tick_size),
                overrides.get("step_size", base.step_size),
                overrides.get("min_notional", base.min_notional),
            )
            if found.source == INFERRED and len(overrides) < len(INSTRUMENT_OVERRIDES):
                notes.append(
                    f"{history.symbol}: exchange rules inferred from the candles ({found.detail}); "
                    "set them with --tick-size, --step-size, --min-notional"
                )
            source = OVERRIDDEN if len(overrides) == len(INSTRUMENT_OVERRIDES) else found.source
            out.append(InstrumentRules(instrument, source, found.detail))
        return out

    @staticmethod
    def _model_range(request: BacktestRequest, models: dict[str, LoadedModel], notes: list[str]) -> BacktestRequest:
        """With no range given, an ML backtest covers its models' out-of-sample test period (the part all the
        symbols' models share)."""
        if not models or request.start_ms is not None or request.end_ms is not None:
            return request
        spans = [split_range(m.info.metadata, "test_range") for m in models.values()]
        known = [span for span in spans if span is not None]
        if len(known) != len(spans):
            return request
        start, end = max(span[0] for span in known), min(span[1] for span in known)
        if start >= end:
            return request
        notes.append(
            f"range: the model's out-of-sample test period, {_day(start)} → {_day(end)} UTC "
            "(--start/--end for another)"
        )
        return dataclasses.replace(request, start_ms=start, end_ms=end)

    def _load(self, request: BacktestRequest, symbol: Symbol) -> CandleSeries:
        """The symbol's bars from the start of its data up to ``end``."""
        return self._market_data.candles(symbol, request.timeframe, None, request.end_ms)

    @staticmethod
    def _first_row(request: BacktestRequest, history: CandleSeries, strategy: Strategy, notes: list[str]) -> int:
        """The first bar to keep: ``warmup`` bars before ``start`` when the data has them."""
        symbol = history.symbol
        if request.start_ms is None:
            return 0
        first = int(np.searchsorted(history.open_time, request.start_ms, side="left"))
        if first >= len(history):
            raise MarketDataUnavailable(
                f"{symbol} data ends at {_day(history.end_ms)} UTC, before the start date {_day(request.start_ms)}"
            )
        if first == 0 and history.start_ms > request.start_ms:
            notes.append(
                f"{symbol} data starts at {_day(history.start_ms)} UTC, after the requested start; "
                "the backtest begins there"
            )
        elif first < strategy.warmup:
            notes.append(f"{symbol}: only {first} bars before the start to warm up on (the strategy needs "
                         f"{strategy.warmup}); no decision before its warm-up is complete")  # fmt: skip
        return max(0, first - strategy.warmup)

    @staticmethod
    def _check_gaps(request: BacktestRequest, part: CandleSeries, gaps: GapReport) -> None:
        if request.gap_policy == "refuse" and gaps.has_gaps:
            where = _day(gaps.largest_gap_start or part.start_ms)
            raise MarketDataUnavailable(
                f"{part.symbol} has {gaps.gaps} gaps ({gaps.missing_bars} bars missing; the largest, "
                f"{gaps.largest_missing_bars} bars, after {where} UTC) and the gap policy is refuse"
            )


def _denial_rule(denial: Denial) -> str:
    """The rule behind a denial, for grouping: the risk rule's name, or what the engine or venue refused."""
    if denial.rule not in ("engine", "venue"):
        return denial.rule  # a risk rule
    reason = denial.reason
    head, sep, _ = reason.partition(":")
    if "minimum order" in reason or "less than one step" in reason:
        return "below the exchange minimum order"
    if sep and head.endswith("rejected"):
        return "refused by the venue"
    if "short selling" in reason:
        return "no short selling on this account"
    if sep and " " not in head.strip():
        return head.strip()  # a risk rule: "max_drawdown: ..."
    return head.split("(")[0].strip()


def _last_entry_before(strategy: Strategy, full: CandleSeries, range_start: int) -> int | None:
    """The open time of the strategy's last entry signal before ``range_start`` over the whole history."""
    sig = strategy.signals(full, Context())
    entries = np.flatnonzero((sig.long_entry | sig.short_entry) & (full.open_time < range_start))
    return int(full.open_time[entries[-1]]) if entries.size else None


def _why_no_trade(
    strategy: Strategy,
    histories: Sequence[CandleSeries],
    signals: list[Signals],
    range_start: int,
    denials: list[Denial],
    fulls: Sequence[CandleSeries] | None,
) -> str:
    """Why a run made no trade, from what it knows: warm-up against the bars, entry signals in the range (and
    before it, over the whole history when ``fulls`` is given), and the denials of the entries it tried."""
    reasons = []
    name = strategy.name
    for j, (history, sig) in enumerate(zip(histories, signals, strict=True)):
        symbol, n = str(history.symbol), len(history)
        in_range = int(np.searchsorted(history.open_time, range_start))
        first = max(in_range, sig.warmup)
        if first >= n:
            reasons.append(f"{symbol} has {n} bars, fewer than the {sig.warmup} bars {name} needs to warm up "
                           "before its first decision; give it more data (or a shorter warm-up)")  # fmt: skip
            continue
        entries = np.flatnonzero(sig.long_entry | sig.short_entry)
        signalled = entries[entries >= first]
        tried = signalled[signalled < n - 1]  # an entry fills at the next bar's open
        if tried.size:
            rules: dict[str, int] = {}
            for d in denials:
                if d.symbol == symbol and d.action == "denied":
                    rules[_denial_rule(d)] = rules.get(_denial_rule(d), 0) + 1
            if rules:
                by = ", ".join(f"{rule} x{count}" for rule, count in sorted(rules.items(), key=lambda kv: -kv[1]))
                reasons.append(f"{symbol}: every one of its {tried.size} entry signals was refused ({by})")
            else:
                reasons.append(f"{symbol}: {tried.size} entry signals, none filled (no volume to fill on?)")
        elif signalled.size:
            last = _day(int(history.open_time[signalled[-1]]))
            reasons.append(f"{symbol}: its only entry signal, at the close of the last bar ({last} UTC), "
                           "would fill after the range")  # fmt: skip
        else:
            before = entries[entries < first]
            last_before = int(history.open_time[before[-1]]) if before.size else None
            if last_before is None and first and fulls is not None:
                last_before = _last_entry_before(strategy, fulls[j], int(history.open_time[first]))
            since = f"{_day(int(history.open_time[first]))} UTC"
            where = (f"after its {sig.warmup}-bar warm-up ({since}) to the end" if first > in_range
                     else f"from {since} to the end" if first else "in the data")  # fmt: skip
            if last_before is not None:
                reasons.append(f"{symbol}: no entry signal {where}; the last one came at {_day(last_before)} UTC, "
                               "before the range (a position opens on a new signal only)")  # fmt: skip
            else:
                reasons.append(f"{symbol}: {name} gave no entry signal {where}")
    return "no trade: " + "; ".join(reasons)


def _describe_rules(
    request: BacktestRequest, rules: list[InstrumentRules], traded: list[Instrument]
) -> dict[str, dict[str, Any]]:
    """What the report, the JSON and the saved session record of each symbol's rules."""
    out = {}
    for j, instrument in enumerate(traded):
        found = rules[j] if rules else None
        out[str(instrument.symbol)] = {
            "tick_size": f"{instrument.tick_size:f}",
            "step_size": f"{instrument.step_size:f}",
            "min_notional": f"{instrument.min_notional:f}",
            "source": found.source if found is not None else "simulator",
            "detail": found.detail if found is not None else "",
            "overridden": sorted(request.instrument_overrides),
        }
    return out


def _equal_weight(marks: np.ndarray, cash: float) -> FloatArray:
    """Equity of buying ``cash / k`` of each symbol at its first mark and holding (no fees)."""
    k = marks.shape[1]
    out = np.zeros(marks.shape[0])
    share = cash / k
    for j in range(k):
        col = marks[:, j]
        if not math.isnan(col[0]):
            first = 0
        else:
            valid = ~np.isnan(col)
            if not valid.any():
                out += share
                continue
            first = int(valid.argmax())  # the first mark
            out[:first] += share
        out[first:] += share * col[first:] / col[first]
    return out
