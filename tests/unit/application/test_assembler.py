"""The assembler builds what a run needs from a request: the strategy from a catalog (user strategies too), a
predictive strategy's predictions in its context, the sizer and the risk limits merged in their layers
(defaults < settings < the strategy's extras < the command line), the account leverage from the extras, the
venue by mode, and an engine that runs as RunBacktest's does."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from application.assembler import Assembler, Market, account_leverage, regimes, risk_setup
from application.ml import IN_SAMPLE_PREFIX, predict_series
from application.ports.errors import ConfigurationError
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.features.builder import default_schema
from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.model.market import MarketFrame
from domain.model.timeframe import Timeframe
from domain.risk import RiskLimits, describe_sizer
from domain.strategies.api import Context, Extras, Param, Signals, Strategy, no_signals
from domain.strategies.registry import USER, Entry, builtin_catalog, create_strategy
from entrypoints.container import simulator
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.models import FakeModelRegistry, FakePredictor, fake_predictor_factory

CANDLES = random_walk(1200, seed=5)
SYMBOL = CANDLES.symbol
SCHEMA = default_schema(window=16, norm_window=50)
SEEN: list[Context] = []  # the contexts the predictive test strategy was given, in order


class Layered(Strategy):
    """A user strategy that declares every extra: a sizer with parameters, risk overrides, a leverage."""

    name = "layered"
    version = "1.2.0"
    period = Param(10, low=2, high=50, help="bars")

    def extras(self) -> Extras:
        return Extras(
            sizer="fixed_fraction",
            sizer_params={"size": 0.3},
            risk={"max_position": 0.4, "daily_loss_limit": 0.02},
            leverage=3.0,
        )

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        return no_signals(len(candles), 1)


class Predicted(Strategy):
    """A user strategy that trades on a ``basic`` model: long while the prediction is above ``threshold``."""

    name = "predicted"
    threshold = Param(0.0, low=-1.0, high=1.0)

    @property
    def model_type(self) -> str | None:
        return "basic"

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        SEEN.append(context)
        assert context.predictions is not None
        up = np.nan_to_num(context.predictions, nan=-np.inf) > self.threshold
        out = no_signals(len(candles), 1)
        out.long_entry[1:] = up[1:] & ~up[:-1]
        out.long_exit[1:] = ~up[1:] & up[:-1]
        return out


CATALOG = builtin_catalog().with_entries([Entry(Layered, USER, __file__, ""), Entry(Predicted, USER, __file__, "")])


def _request(strategy: str = "layered", **kw: Any) -> BacktestRequest:
    return BacktestRequest(strategy, (SYMBOL,), Timeframe.H1, Decimal(10_000), **kw)


def _market(candles: CandleSeries = CANDLES, first: int = 0, start: int = 0) -> Market:
    kept = candles.slice(first, len(candles)) if first else candles
    return Market([candles], [first], [kept], MarketFrame.align([kept]), start)


# -- the strategy, from the catalog --------------------------------------------------------------------------------
def test_a_user_strategy_comes_from_the_catalog_with_its_parameters() -> None:
    assembler = Assembler(simulator, strategies=CATALOG)
    assert assembler.strategy(_request(params={"period": "20"})) == Layered(period=20)
    assert assembler.strategy(_request("ema_cross")) == create_strategy("ema_cross")
    with pytest.raises(InvalidParameter, match="unknown strategy 'layered'"):
        Assembler(simulator).strategy(_request())  # the built-ins only


# -- sizer and risk layers --------------------------------------------------------------------------------------
def test_risk_layers_merge_defaults_then_settings_then_the_strategy_then_the_command_line() -> None:
    request = _request(
        risk_global={"max_drawdown": "0.2", "max_position": "0.3", "min_fraction": "0.01"},
        risk={"daily_loss_limit": "0.03", "min_fraction": "0.002"},
    )
    _, limits = risk_setup(request, Layered())
    assert limits is not None
    default = RiskLimits()
    assert limits.max_drawdown == 0.2  # settings only
    assert limits.max_position == 0.4  # settings 0.3 < the strategy's 0.4
    assert limits.daily_loss_limit == 0.03  # the strategy's 0.02 < the command line's 0.03
    assert limits.min_fraction == 0.002  # settings 0.01 < the command line's 0.002
    assert limits.max_risk_per_trade == default.max_risk_per_trade  # no layer names it
    assert limits.correlation_window == default.correlation_window


def test_the_sizer_is_the_requested_one_else_the_strategys_else_the_default() -> None:
    sizer, _ = risk_setup(_request(), Layered())
    assert sizer is not None and describe_sizer(sizer) == {"name": "fixed_fraction", "size": 0.3}
    sizer, _ = risk_setup(_request(sizer="fixed_risk", sizer_params={"risk_per_trade": "0.005"}), Layered())
    assert sizer is not None and describe_sizer(sizer)["name"] == "fixed_risk"
    assert describe_sizer(sizer)["risk_per_trade"] == 0.005
    sizer, _ = risk_setup(_request("ema_cross"), create_strategy("ema_cross"))
    assert sizer is not None and describe_sizer(sizer)["name"] == "requested"  # DEFAULT_SIZER


def test_risk_off_means_no_sizer_and_no_limits() -> None:
    assert risk_setup(_request(risk_enabled=False, risk={"max_position": "0.1"}), Layered()) == (None, None)


def test_regimes_are_detected_only_when_the_limits_cap_by_regime() -> None:
    assert regimes([CANDLES], None) is None
    assert regimes([CANDLES], RiskLimits(regime_caps=())) is None
    (found,) = regimes([CANDLES], RiskLimits()) or []
    assert found is not None and len(found.trend) == len(CANDLES)


# -- leverage --------------------------------------------------------------------------------------------------
def test_the_account_leverage_is_the_one_given_else_the_strategys_else_spot() -> None:
    assert account_leverage(Layered()) == 3.0
    assert account_leverage(Layered(), 1.5) == 1.5
    assert account_leverage(create_strategy("ema_cross")) == 1.0
    lev = create_strategy("momentum_leverage", {"leverage": "4"})
    assert account_leverage(lev) == lev.extras().leverage == 4.0


# -- a predictive strategy's context ---------------------------------------------------------------------------
def test_a_predictive_strategy_gets_its_models_predictions_in_its_context() -> None:
    registry = FakeModelRegistry()
    t = CANDLES.open_time
    ranges = {"train_range": [int(t[100]), int(t[600])], "val_range": [int(t[620]), int(t[800])]}
    registry.add(str(SYMBOL), "basic", "v1", SCHEMA, {**ranges, "fake_gain": 0.004})
    assembler = Assembler(simulator, strategies=CATALOG, models=registry, predictors=fake_predictor_factory())
    request = _request("predicted")
    strategy = assembler.strategy(request)
    models = assembler.models(request, strategy)
    assert list(models) == [str(SYMBOL)]
    first = 300
    market = _market(first=first, start=10)
    SEEN.clear()
    notes: list[str] = []
    run = assembler.assemble(request, strategy, market, models, notes)
    (context,) = SEEN
    oracle = predict_series(FakePredictor(SCHEMA, gain=0.004), CANDLES, first_row=first)[first:]
    assert context.predictions is not None and len(context.predictions) == len(CANDLES) - first
    np.testing.assert_array_equal(context.predictions, oracle)
    assert np.isfinite(oracle).sum() > 500  # a real series, not a run of NaN
    assert run.signals[0].long_entry.any()  # the strategy traded on them
    assert notes[0].startswith(IN_SAMPLE_PREFIX), notes  # bar 310 on: the model was trained on it


def test_a_strategy_without_a_model_gets_an_empty_context_and_refuses_a_pinned_model() -> None:
    assembler = Assembler(simulator, strategies=CATALOG)
    strategy = create_strategy("ema_cross")
    assert assembler.models(_request("ema_cross"), strategy) == {}
    with pytest.raises(ConfigurationError, match="uses no model"):
        assembler.models(_request("ema_cross", model_version="v1"), strategy)
    with pytest.raises(ConfigurationError, match="needs a model registry"):
        assembler.models(_request("predicted"), Predicted())
    (sig,) = assembler.signals(strategy, _market(), {}, 0, [])
    expected = strategy.signals(CANDLES, Context())
    np.testing.assert_array_equal(sig.long_entry, expected.long_entry)


# -- venue and engine -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["paper", "live"])
def test_modes_without_a_venue_yet_say_so(mode: str) -> None:
    with pytest.raises(ConfigurationError, match=f"mode {mode!r} is not available yet"):
        Assembler(simulator, mode=mode).venue(_request(), MarketFrame.align([CANDLES]))
    with pytest.raises(ConfigurationError, match="unknown mode"):
        Assembler(simulator, mode="dream")


def test_a_balance_below_the_minimum_order_is_refused_at_the_venue() -> None:
    with pytest.raises(ConfigurationError, match="below the exchange minimum order"):
        Assembler(simulator).venue(dataclasses.replace(_request(), initial_cash=Decimal("0.5")),
                                   MarketFrame.align([CANDLES]))  # fmt: skip


def test_the_assembled_engine_runs_as_the_backtest_does() -> None:
    request = _request("ema_cross", risk={"max_position": "0.3"})
    report = RunBacktest(InMemoryMarketData(CANDLES), simulator)(request)
    assembler = Assembler(simulator)
    strategy = assembler.strategy(request)
    run = assembler.assemble(request, strategy, _market(), {}, [])
    assert run.limits is not None and run.limits.max_position == 0.3
    result = run.engine.run(start=0)
    assert report.trades and result.trades == report.trades
    assert result.fills == report.fills
    np.testing.assert_array_equal(result.equity, report.equity)
