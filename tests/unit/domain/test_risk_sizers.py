"""Position sizers: hand-computed fractions, fallbacks, the registry and its errors."""

from __future__ import annotations

import math

import pytest

from domain.model.errors import InvalidParameter
from domain.risk import (
    AccountView,
    ConfidenceWeighted,
    EntryProposal,
    FixedFraction,
    FixedRisk,
    KellyCapped,
    PositionSizer,
    Requested,
    VolatilityTarget,
    create_sizer,
    describe_sizer,
    sizer_names,
)

ACCOUNT = AccountView(equity=10_000.0, peak_equity=10_000.0, day_start_equity=10_000.0)


def proposal(
    stop_distance: float = math.nan, atr: float = math.nan, confidence: float = 1.0, requested: float = 1.0
) -> EntryProposal:
    return EntryProposal("BTCUSDT", 0, 1, 100.0, stop_distance, atr, confidence, requested)


def test_requested_passes_the_strategy_size_through() -> None:
    assert Requested().fraction(proposal(requested=0.7), ACCOUNT) == 0.7
    assert Requested().name == "requested"


def test_fixed_fraction() -> None:
    assert FixedFraction(0.2).fraction(proposal(requested=1.0), ACCOUNT) == 0.2
    with pytest.raises(InvalidParameter, match="size"):
        FixedFraction(0.0)
    with pytest.raises(InvalidParameter):
        FixedFraction(math.nan)


def test_fixed_risk_from_stop_distance() -> None:
    # stop 5 away from 100 = 5 %; 1 % risk -> 0.2 of equity (loses 0.2 x 5 % = 1 % at the stop)
    assert FixedRisk(0.01).fraction(proposal(stop_distance=5.0), ACCOUNT) == pytest.approx(0.2)
    # a 0.5 % stop would ask for 2x: capped at max_fraction
    assert FixedRisk(0.01).fraction(proposal(stop_distance=0.5), ACCOUNT) == 1.0
    assert FixedRisk(0.01, max_fraction=3.0).fraction(proposal(stop_distance=0.5), ACCOUNT) == pytest.approx(2.0)


def test_fixed_risk_without_a_stop_falls_back() -> None:
    sizer = FixedRisk(0.01)
    assert sizer.fraction(proposal(), ACCOUNT) == 0.0  # NaN stop: no entry by default
    assert "no stop distance" in sizer.why_zero(proposal(), ACCOUNT)
    assert FixedRisk(0.01, no_stop_fraction=0.1).fraction(proposal(stop_distance=0.0), ACCOUNT) == 0.1
    with pytest.raises(InvalidParameter):
        FixedRisk(0.01, max_fraction=0.5, no_stop_fraction=0.6)


def test_volatility_target_per_bar_and_annualised() -> None:
    # ATR 2 on price 100 = 2 % a bar; target 1 % a bar -> half the equity
    assert VolatilityTarget(0.01).fraction(proposal(atr=2.0), ACCOUNT) == pytest.approx(0.5)
    # 0.365 a year over 365 bars = 0.365 / sqrt(365) = 1.91 % a bar -> 0.955
    annual = VolatilityTarget(0.365, periods_per_year=365)
    assert annual.per_bar_target == pytest.approx(0.365 / math.sqrt(365))
    assert annual.fraction(proposal(atr=2.0), ACCOUNT) == pytest.approx(0.365 / math.sqrt(365) / 0.02)
    assert VolatilityTarget(0.01).fraction(proposal(atr=0.1), ACCOUNT) == 1.0  # capped
    assert VolatilityTarget(0.01).fraction(proposal(), ACCOUNT) == 0.0  # no ATR
    assert VolatilityTarget(0.01, no_atr_fraction=0.3).fraction(proposal(), ACCOUNT) == 0.3


def kelly_account(win_rate: float, payoff: float, trades: int) -> AccountView:
    return AccountView(10_000.0, 10_000.0, 10_000.0, win_rate=win_rate, payoff=payoff, closed_trades=trades)


def test_kelly_capped() -> None:
    sizer = KellyCapped(cap=0.5, fraction_of_kelly=0.5, min_trades=20, fallback=0.1)
    # W 0.5, R 2: Kelly 0.5 - 0.5 / 2 = 0.25; half Kelly 0.125
    assert KellyCapped.kelly(0.5, 2.0) == pytest.approx(0.25)
    assert sizer.fraction(proposal(), kelly_account(0.5, 2.0, 30)) == pytest.approx(0.125)
    # W 0.6, R 3: Kelly 0.6 - 0.4 / 3 = 0.4667; full Kelly capped at 0.3
    full = KellyCapped(cap=0.3, fraction_of_kelly=1.0, min_trades=0, fallback=0.0)
    assert full.fraction(proposal(), kelly_account(0.6, 3.0, 5)) == pytest.approx(0.3)


def test_kelly_fallback_and_no_edge() -> None:
    sizer = KellyCapped(min_trades=20, fallback=0.1)
    assert sizer.fraction(proposal(), kelly_account(0.9, 5.0, 19)) == 0.1  # too few trades
    assert sizer.fraction(proposal(), ACCOUNT) == 0.1  # NaN statistics
    # W 0.3, R 1: Kelly 0.3 - 0.7 = -0.4: no edge, no entry
    assert sizer.fraction(proposal(), kelly_account(0.3, 1.0, 50)) == 0.0
    assert "no edge" in sizer.why_zero(proposal(), kelly_account(0.3, 1.0, 50))


def test_confidence_weighted() -> None:
    sizer = ConfidenceWeighted(FixedFraction(0.4), floor=0.25, threshold=0.1)
    assert sizer.fraction(proposal(confidence=0.5), ACCOUNT) == pytest.approx(0.2)
    assert sizer.fraction(proposal(confidence=0.2), ACCOUNT) == pytest.approx(0.1)  # floor 0.25 x 0.4
    assert sizer.fraction(proposal(confidence=0.05), ACCOUNT) == 0.0  # below the threshold
    assert "below threshold" in sizer.why_zero(proposal(confidence=0.05), ACCOUNT)
    assert sizer.fraction(proposal(confidence=math.nan), ACCOUNT) == 0.0
    assert sizer.fraction(proposal(confidence=1.5), ACCOUNT) == pytest.approx(0.4)  # clipped to 1
    default = ConfidenceWeighted()
    assert default.fraction(proposal(confidence=0.5, requested=0.8), ACCOUNT) == pytest.approx(0.4)


def test_create_sizer_by_name_with_text_params() -> None:
    assert create_sizer("requested") == Requested()
    assert create_sizer("fixed_fraction", {"size": "0.3"}) == FixedFraction(0.3)
    assert create_sizer("fixed_risk", {"risk_per_trade": 0.02}) == FixedRisk(0.02)
    assert create_sizer("kelly", {"min_trades": "10"}) == KellyCapped(min_trades=10)
    built = create_sizer("confidence_weighted", {"base": "fixed_risk", "floor": "0.2", "risk_per_trade": "0.01"})
    assert built == ConfidenceWeighted(FixedRisk(0.01), floor=0.2)
    assert set(sizer_names()) == {
        "requested",
        "fixed_fraction",
        "fixed_risk",
        "volatility_target",
        "kelly",
        "confidence_weighted",
    }
    sizer: PositionSizer = built
    assert describe_sizer(sizer) == {
        "name": "confidence_weighted",
        "floor": 0.2,
        "threshold": 0.0,
        "base": {"name": "fixed_risk", "risk_per_trade": 0.01, "max_fraction": 1.0, "no_stop_fraction": 0.0},
    }


def test_create_sizer_errors_name_the_valid_choices() -> None:
    with pytest.raises(InvalidParameter, match="unknown sizer 'martingale'; valid: confidence_weighted"):
        create_sizer("martingale")
    with pytest.raises(InvalidParameter, match="unknown parameter fraction; valid: size"):
        create_sizer("fixed_fraction", {"fraction": 0.1})
    with pytest.raises(InvalidParameter, match="not a valid number"):
        create_sizer("fixed_risk", {"risk_per_trade": "lots"})
    with pytest.raises(InvalidParameter, match="whole number"):
        create_sizer("kelly", {"min_trades": "2.5"})
    with pytest.raises(InvalidParameter, match="risk_per_trade must be in"):
        create_sizer("fixed_risk", {"risk_per_trade": "1.5"})
    with pytest.raises(InvalidParameter, match="confidence_weighted base: unknown sizer"):
        create_sizer("confidence_weighted", {"base": "nope"})
    with pytest.raises(InvalidParameter, match="cannot wrap"):
        create_sizer("confidence_weighted", {"base": "confidence_weighted"})
