"""One assembler: what a run needs, built in one place from a request (docs/adr/0023-one-engine.md, point 6).

From a request (:class:`RunRequest`: what ``BacktestRequest`` carries) and the market it runs on, the
:class:`Assembler` builds

- the strategy, from a :class:`~domain.strategies.registry.Catalog` (built-ins and the user's);
- its context inputs: each symbol's model and its predictions for a strategy that trades on a model
  (:mod:`application.ml`), nothing for the others;
- the sizer and the merged risk limits (:func:`risk_setup`: defaults < settings < the strategy's
  ``extras().risk`` < the command line's; the sizer by name, else ``extras().sizer``), the risk manager, the
  regimes and the correlation window the limits ask for;
- the account leverage a run defaults to (:func:`account_leverage`: ``extras().leverage``);
- the venue and its clock, through a factory port: the simulated venue (``SimulatorFactory``) in the
  ``backtest`` mode; ``paper`` takes it too once its driver exists, ``live`` an exchange venue ([M10]/[M11]);
- the engine, through its constructor, with the request's ``EngineConfig``.

Strategy extras are read from the declared :meth:`Strategy.extras`, never with ``getattr``. The use cases
(``RunBacktest`` now; paper, live and optimisation later) load data, assemble, run and report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import numpy as np

from application.engine import Engine, EngineConfig, RegimeLookup
from application.ml import LoadedModel, history_needed, in_sample_note, load_model, predict_series, unverified_note
from application.ports.clock import Clock
from application.ports.errors import ConfigurationError
from application.ports.models import ModelNotFound, ModelRegistry, PredictorFactory
from application.ports.sentiment import Sentiment
from application.ports.simulation import SimulatedVenue, SimulationSettings, SimulatorFactory
from domain.model.candles import CandleSeries
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.regime import detect
from domain.risk import DEFAULT_SIZER, PositionSizer, RiskLimits, RiskManager, create_sizer, merge_layers
from domain.strategies.base import Signals
from domain.strategies.registry import Catalog, builtin_catalog, create_strategy, strategy_names
from domain.strategies.strategy import Context, Strategy

MODES = ("backtest", "paper", "live")
SIMULATED_MODES = ("backtest",)  # paper joins with its driver ([M11]); live takes an exchange venue ([M10])


class RunRequest(Protocol):
    """What the assembler reads of a request (``BacktestRequest`` has it all)."""

    @property
    def strategy(self) -> str: ...
    @property
    def params(self) -> dict[str, str]: ...
    @property
    def symbols(self) -> tuple[Symbol, ...]: ...
    @property
    def timeframe(self) -> Timeframe: ...
    @property
    def initial_cash(self) -> Decimal: ...
    @property
    def simulation(self) -> SimulationSettings: ...
    @property
    def engine(self) -> EngineConfig: ...
    @property
    def risk(self) -> dict[str, str]: ...
    @property
    def risk_global(self) -> dict[str, str]: ...
    @property
    def risk_enabled(self) -> bool: ...
    @property
    def sizer(self) -> str | None: ...
    @property
    def sizer_params(self) -> dict[str, str]: ...
    @property
    def model_version(self) -> str | None: ...
    @property
    def model_as_of_ms(self) -> int | None: ...
    @property
    def allow_unverified_model(self) -> bool: ...


@dataclass(frozen=True, slots=True, eq=False)
class Market:
    """The candles a run trades on: each symbol's whole loaded history (``fulls``), the first row kept of each
    (``firsts``: its warm-up before the range), the kept part (``histories``), their aligned ``frame`` and the
    frame's first row of the range (``start``)."""

    fulls: Sequence[CandleSeries]
    firsts: Sequence[int]
    histories: Sequence[CandleSeries]
    frame: MarketFrame
    start: int

    @property
    def range_start(self) -> int:
        return int(self.frame.open_time[self.start])

    def range_end(self, timeframe: Timeframe) -> int:
        return int(self.frame.open_time[-1]) + timeframe.milliseconds


@dataclass(frozen=True, slots=True, eq=False)
class Assembly:
    """What a run needs, built: the strategy, its signals per symbol, the venue and clock, the sizer and merged
    limits (None when risk is off), and the engine over them."""

    strategy: Strategy
    signals: list[Signals]
    broker: SimulatedVenue
    clock: Clock
    sizer: PositionSizer | None
    limits: RiskLimits | None
    engine: Engine


def risk_setup(request: RunRequest, strategy: Strategy) -> tuple[PositionSizer | None, RiskLimits | None]:
    """The sizer and the merged risk limits: defaults < settings < the strategy's ``extras().risk`` < the
    command line's. The sizer is the request's by name, else the strategy's own (``extras().sizer``), else the
    default. ``(None, None)`` when the request turns risk off."""
    if not request.risk_enabled:
        return None, None
    extras = strategy.extras()
    if request.sizer is not None:
        sizer: PositionSizer = create_sizer(request.sizer, request.sizer_params)
    else:
        sizer = create_sizer(extras.sizer or DEFAULT_SIZER, dict(extras.sizer_params))
    limits = merge_layers(request.risk_global, dict(extras.risk) or None, request.risk)
    return sizer, limits


def account_leverage(strategy: Strategy, given: float | None = None) -> float:
    """The account leverage of a run: the one given (``--leverage``), else what the strategy is designed for
    (``extras().leverage``), else 1 (spot)."""
    return given if given is not None else strategy.extras().leverage or 1.0


def regimes(histories: Sequence[CandleSeries], limits: RiskLimits | None) -> list[RegimeLookup | None] | None:
    """Regimes per symbol, when the limits cap exposure by regime."""
    if limits is None or not limits.regime_caps:
        return None
    return [detect(h) for h in histories]


class Assembler:
    """Builds strategy, context inputs, sizer, risk, venue and engine for a run in ``mode`` (module docstring).

    ``simulator`` is the venue factory of the simulated modes; ``models``, ``predictors`` and ``sentiment`` serve
    strategies that trade on a model; ``strategies`` is the catalog (the built-ins when None)."""

    def __init__(
        self,
        simulator: SimulatorFactory | None,
        *,
        strategies: Catalog | None = None,
        models: ModelRegistry | None = None,
        predictors: PredictorFactory | None = None,
        sentiment: Sentiment | None = None,
        mode: str = "backtest",
    ) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        self.mode = mode
        self.strategies = strategies if strategies is not None else builtin_catalog()
        self._simulator = simulator
        self._models = models
        self._predictors = predictors
        self._sentiment = sentiment

    # -- before the data: the strategy and its models ----------------------------------------------------------
    def strategy(self, request: RunRequest) -> Strategy:
        """The request's strategy from the catalog, its parameters validated."""
        return self.strategies.create(request.strategy, request.params)

    def models(self, request: RunRequest, strategy: Strategy) -> dict[str, LoadedModel]:
        """Each symbol's model, when the strategy trades on one (resolved, schema checked, loaded)."""
        model_type = strategy.model_type
        if model_type is None:
            if request.model_version is not None or request.model_as_of_ms is not None:
                raise ConfigurationError(f"{strategy.name} uses no model; --model-version and --model-as-of "
                                         "apply to ML strategies")  # fmt: skip
            return {}
        if self._models is None or self._predictors is None:
            raise ConfigurationError(f"{strategy.name} needs a model registry, and none is configured")
        models: dict[str, LoadedModel] = {}
        for s in request.symbols:
            try:
                models[str(s)] = load_model(self._models, self._predictors, str(s), model_type, request.timeframe,
                                            request.model_version, request.model_as_of_ms,
                                            request.allow_unverified_model)  # fmt: skip
            except ModelNotFound:
                if request.model_version is not None or request.model_as_of_ms is not None:
                    raise  # a pinned version or date: the registry's message says what is there
                raise ModelNotFound(how_to_get_a_model(self._models, str(s), model_type, request.timeframe)) from None
        return models

    # -- over the data: venue, signals, risk, engine -----------------------------------------------------------
    def assemble(
        self,
        request: RunRequest,
        strategy: Strategy,
        market: Market,
        models: Mapping[str, LoadedModel],
        notes: list[str],
        instruments: Sequence[Instrument] | None = None,
    ) -> Assembly:
        """Venue, signals, sizer and limits, and the engine over ``market`` (notes about the models go to
        ``notes``); ``instruments``: each symbol's exchange rules (None: the venue factory's own)."""
        broker, clock = self.venue(request, market.frame, instruments)
        signals = self.signals(strategy, market, models, market.range_end(request.timeframe), notes)
        sizer, limits = risk_setup(request, strategy)
        engine = Engine(
            market.frame, signals, broker, clock, request.initial_cash, config=request.engine,
            sizer=sizer, risk=RiskManager(limits) if limits is not None else None,
            regimes=regimes(market.histories, limits),
            correlation_window=limits.correlation_window if limits is not None else 0,
        )  # fmt: skip
        return Assembly(strategy, signals, broker, clock, sizer, limits, engine)

    def venue(
        self, request: RunRequest, frame: MarketFrame, instruments: Sequence[Instrument] | None = None
    ) -> tuple[SimulatedVenue, Clock]:
        """The venue and its clock for this mode, refused when the starting balance is below every symbol's
        minimum order (no trade could ever be placed)."""
        if self.mode not in SIMULATED_MODES or self._simulator is None:
            raise ConfigurationError(f"mode {self.mode!r} is not available yet; use backtest")
        broker, clock = self._simulator(frame, request.initial_cash, request.simulation, instruments)
        minimum = min(broker.instrument(s).min_notional for s in request.symbols)
        if request.initial_cash < minimum:
            raise ConfigurationError(
                f"starting balance {request.initial_cash} {request.symbols[0].quote} is below the exchange "
                f"minimum order of {minimum}: no trade could ever be placed"
            )
        return broker, clock

    def signals(
        self,
        strategy: Strategy,
        market: Market,
        models: Mapping[str, LoadedModel],
        range_end: int,
        notes: list[str],
    ) -> list[Signals]:
        """The strategy's signals over each symbol's kept bars, with its context inputs (a model's predictions)."""
        if not models:
            return [strategy.signals(h, Context()) for h in market.histories]
        return [
            strategy.signals(kept, self.context(full, first, models[str(full.symbol)], market.range_start, range_end,
                                                notes))
            for full, first, kept in zip(market.fulls, market.firsts, market.histories, strict=True)
        ]  # fmt: skip

    def context(
        self, full: CandleSeries, first: int, model: LoadedModel, range_start: int, range_end: int, notes: list[str]
    ) -> Context:
        """The context of a predictive strategy on the symbol's kept bars: the model's predictions over its whole
        history (one batch, the features warmed up on every bar before ``first``), from ``first`` on. Bars of the
        range without a prediction, an in-sample range and an unverified model are said in ``notes``."""
        predictions = predict_series(model.predictor, full, self._sentiment, first, str(model.info.ref))[first:]
        kept_times = full.open_time[first:]
        missing = int(np.count_nonzero(np.isnan(predictions[kept_times >= range_start])))
        if missing:
            schema = model.predictor.schema
            notes.append(
                f"{full.symbol}: no model prediction on {missing} bars of the range (the model needs "
                f"{history_needed(schema)} bars of history" + (" and sentiment data" if schema.sentiment else "")
                + "); no ML decision on them"
            )  # fmt: skip
        warning = in_sample_note(model.info, range_start, range_end)
        if warning is not None and warning not in notes:
            notes.insert(0, warning)
        if model.unverified:
            unverified = unverified_note(model.info, list(model.unverified))
            if unverified not in notes:
                notes.insert(0, unverified)
        return Context(predictions=predictions)


def how_to_get_a_model(registry: ModelRegistry, symbol: str, model_type: str, timeframe: Timeframe) -> str:
    """One line for a run on a symbol without a latest model: how to get one, and which strategies need none."""
    registered = [info.ref.version for info in registry.list(symbol, model_type)]  # none of them latest
    how = (
        f"promote a registered one ({', '.join(registered)}) with: atb models promote {symbol} {model_type} "
        f"{registered[-1]}, or train one with: "
        if registered
        else "train one with: "
    )
    model_free = [name for name in strategy_names() if create_strategy(name).model_type is None]
    return (
        f"no {model_type} model for {symbol}; {how}atb train --symbol {symbol} --type {model_type} "
        f"--timeframe {timeframe.value} (strategies that need no model: {', '.join(model_free)})"
    )
