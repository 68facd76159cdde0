"""Promotion guarded by stress-window backtests (margin, --force, the log), rollback, delete, stress windows."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from application.ports.errors import ConfigurationError
from application.ports.models import ModelRef, ModelRefused
from application.use_cases.models import (
    DEFAULT_STRESS_WINDOWS,
    PromoteModel,
    StressWindow,
    delete_model,
    parse_stress_windows,
    rollback_model,
)
from application.use_cases.run_backtest import RunBacktest
from domain.features.builder import default_schema
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from tests.builders import HOUR_MS, T0
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.models import FakeModelRegistry, fake_predictor_factory

SCHEMA = default_schema(window=16, norm_window=50)
N = 1600


def _market(drift: float, seed: int = 3) -> CandleSeries:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.004, N)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    times = T0 + HOUR_MS * np.arange(N, dtype=np.int64)
    return CandleSeries.from_arrays(Symbol.parse("BTCUSDT"), Timeframe.H1, times, open_, high, low, close, np.ones(N))


WINDOW = StressWindow("synthetic slide", T0 + 900 * HOUR_MS, T0 + 1500 * HOUR_MS)


def _promoter(candles: CandleSeries, margin: float = 0.05) -> tuple[PromoteModel, FakeModelRegistry]:
    registry = FakeModelRegistry()
    # v1 (latest) predicts a fall everywhere: it never buys. v2 predicts a rise everywhere: always long.
    registry.add("BTCUSDT", "basic", "v1", SCHEMA, {"fake_bias": -0.01, "fake_gain": 0.0})
    registry.add("BTCUSDT", "basic", "v2", SCHEMA, {"fake_bias": 0.01, "fake_gain": 0.0}, promote=False)
    backtest = RunBacktest(InMemoryMarketData(candles), simulator, registry, fake_predictor_factory())
    return PromoteModel(registry, backtest, (WINDOW,), margin, Decimal(10_000)), registry


def test_a_version_much_worse_on_a_stress_window_is_refused() -> None:
    promote, registry = _promoter(_market(drift=-0.0006))
    with pytest.raises(ModelRefused, match="synthetic slide") as caught:
        promote(ModelRef("BTCUSDT", "basic", "v2"))
    assert "--force" in str(caught.value) and "\n" not in str(caught.value)
    assert registry.latest[("BTCUSDT", "basic")] == "v1"


def test_force_promotes_anyway_and_the_log_says_so() -> None:
    promote, registry = _promoter(_market(drift=-0.0006))
    result = promote(ModelRef("BTCUSDT", "basic", "v2"), force=True)
    assert result.info.is_latest and result.forced and result.previous == "v1"
    last = registry.events[-1]
    assert last.action == "promote" and last.ref.version == "v2" and last.reason.startswith("forced")
    assert "synthetic slide" in last.reason


def test_a_wide_enough_margin_lets_it_through() -> None:
    candles = _market(drift=-0.0006)
    promote, _ = _promoter(candles, margin=5.0)
    result = promote(ModelRef("BTCUSDT", "basic", "v2"))
    (stress,) = result.stress
    assert stress.candidate is not None and stress.current == pytest.approx(0.0)
    assert stress.candidate < -0.05  # it did lose, within the (huge) margin
    assert "stress test passed" in result.reason


def test_a_better_version_passes() -> None:
    promote, registry = _promoter(_market(drift=0.0006))
    result = promote(ModelRef("BTCUSDT", "basic", "v2"))
    assert result.info.is_latest and result.stress[0].worse_by() < 0
    assert registry.events[-1].reason.startswith("stress test passed")


def test_the_first_version_is_promoted_without_comparison() -> None:
    registry = FakeModelRegistry()
    registry.add("BTCUSDT", "basic", "v1", SCHEMA, promote=False)
    backtest = RunBacktest(InMemoryMarketData(_market(0.0)), simulator, registry, fake_predictor_factory())
    result = PromoteModel(registry, backtest, (WINDOW,))(ModelRef("BTCUSDT", "basic", "v1"))
    assert result.info.is_latest and result.stress == () and result.previous is None


def test_promoting_the_latest_again_is_refused() -> None:
    promote, _ = _promoter(_market(0.0))
    with pytest.raises(ModelRefused, match="already the latest"):
        promote(ModelRef("BTCUSDT", "basic", "v1"))


def test_a_stress_window_outside_the_data_is_skipped_not_failed() -> None:
    registry = FakeModelRegistry()
    registry.add("BTCUSDT", "basic", "v1", SCHEMA, {"fake_bias": -0.01, "fake_gain": 0.0})
    registry.add("BTCUSDT", "basic", "v2", SCHEMA, {"fake_bias": 0.01, "fake_gain": 0.0}, promote=False)
    backtest = RunBacktest(InMemoryMarketData(_market(0.0)), simulator, registry, fake_predictor_factory())
    far = StressWindow("far future", T0 + 10 * N * HOUR_MS, T0 + 11 * N * HOUR_MS)
    result = PromoteModel(registry, backtest, (far,))(ModelRef("BTCUSDT", "basic", "v2"))
    assert result.stress[0].candidate is None and "skipped" in result.stress[0].describe()


def test_rollback_and_delete() -> None:
    promote, registry = _promoter(_market(drift=0.0006))
    promote(ModelRef("BTCUSDT", "basic", "v2"))
    info = rollback_model(registry, "BTCUSDT", "basic")
    assert info.ref.version == "v1" and info.is_latest
    assert registry.events[-1].action == "rollback"
    delete_model(registry, ModelRef("BTCUSDT", "basic", "v2"))
    assert [i.ref.version for i in registry.list()] == ["v1"]
    with pytest.raises(ModelRefused):
        delete_model(registry, ModelRef("BTCUSDT", "basic", "v1"))


def test_stress_windows_default_and_parsed() -> None:
    assert [w.name for w in parse_stress_windows("")] == ["2018 bear market", "March 2020 crash"]
    assert parse_stress_windows("") == DEFAULT_STRESS_WINDOWS
    (w,) = parse_stress_windows("luna=2022-05-01..2022-06-01")
    assert w.name == "luna" and w.end_ms - w.start_ms == 31 * 24 * HOUR_MS
    for bad in ("luna", "luna=2022-05-01", "x=2022-06-01..2022-05-01", "x=yesterday..today"):
        with pytest.raises(ConfigurationError):
            parse_stress_windows(bad)
    with pytest.raises(ConfigurationError):
        PromoteModel(FakeModelRegistry(), None, margin=-0.1)  # type: ignore[arg-type]
