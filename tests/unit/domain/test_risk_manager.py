"""The risk manager, rule by rule, on hand-made scenarios; every cut or denial carries a reason."""

from __future__ import annotations

import dataclasses
import math

import pytest

from domain.regime.types import Regime
from domain.risk import AccountView, EntryProposal, FixedRisk, RiskLimits, RiskManager, merge, rule_of

OFF = RiskLimits.unlimited()


def only(**overrides: object) -> RiskManager:
    """A manager with every rule off but the given ones."""
    return RiskManager(merge(OFF, overrides))


def entry(symbol: str = "BTCUSDT", price: float = 100.0, stop: float = math.nan) -> EntryProposal:
    return EntryProposal(symbol, 0, 1, price, stop_distance=stop)


def account(
    equity: float = 100.0,
    peak: float = 100.0,
    day_start: float = 100.0,
    gross: float = 0.0,
    exposures: dict[str, float] | None = None,
    correlations: dict[str, float] | None = None,
    regime: str | None = None,
) -> AccountView:
    return AccountView(
        equity,
        peak,
        day_start,
        gross_exposure=gross,
        exposure_by_symbol=exposures or {},
        correlations=correlations or {},
        regime=Regime.parse(regime) if regime else None,
    )


def test_nothing_to_say_when_within_every_limit() -> None:
    decision = RiskManager().assess(entry(stop=2.0), account(), 0.3)
    assert decision.fraction == 0.3
    assert decision.reasons == ()
    assert not decision.denied


def test_unlimited_passes_any_size_through() -> None:
    assert RiskManager(OFF).assess(entry(), account(equity=50, day_start=100), 3.0).fraction == 3.0


def test_a_zero_size_from_the_sizer_is_explained() -> None:
    decision = RiskManager().assess(entry(), account(), 0.0, sizer=FixedRisk(0.01))
    assert decision.denied
    assert decision.reasons == ("sizer: sizer fixed_risk gave no size (0.0): no stop distance to size the risk from "
                                "(no_stop_fraction is 0)",)  # fmt: skip
    assert RiskManager().assess(entry(), account(), math.nan).denied
    assert RiskManager(OFF).assess(entry(), account(), math.inf).reasons == ("sizer: the sizer gave an infinite size",)


def test_a_losing_day_stops_new_entries_until_the_next_utc_day() -> None:
    manager = only(daily_loss_limit=0.05)
    losing_day = account(equity=94.0, peak=100.0, day_start=100.0)  # -6 % with a 5 % limit
    decision = manager.assess(entry(), losing_day, 0.3)
    assert decision.denied
    assert decision.fraction == 0.0
    assert decision.reasons == ("daily_loss_limit: day -6% <= -5%: no new entries until the next UTC day",)
    # -4 % is within the limit
    assert manager.assess(entry(), account(equity=96.0, day_start=100.0), 0.3).fraction == 0.3
    # the next UTC day the engine resets day_start_equity to the equity: entries are allowed again
    next_day = account(equity=94.0, peak=100.0, day_start=94.0)
    assert manager.assess(entry(), next_day, 0.3).fraction == 0.3


def test_circuit_breaker_on_max_drawdown() -> None:
    manager = only(max_drawdown=0.25)
    decision = manager.assess(entry(), account(equity=75.0, peak=100.0, day_start=75.0), 0.3)
    assert decision.denied
    assert decision.reasons == ("max_drawdown: drawdown 25% >= 25%: circuit breaker, no new entries",)
    # the manager alone holds no state (the engine keeps the breaker's, domain/risk/breaker.py): it reads
    # the drawdown it is shown
    assert manager.assess(entry(), account(equity=76.0, peak=100.0, day_start=76.0), 0.3).fraction == 0.3


def test_a_tripped_breaker_denies_whatever_the_drawdown() -> None:
    manager = only(max_drawdown=0.25)
    tripped = dataclasses.replace(account(equity=100.0, peak=100.0), breaker_tripped=True)
    decision = manager.assess(entry(), tripped, 0.3)
    assert decision.denied and rule_of(decision.reasons[0]) == "max_drawdown"
    assert "tripped" in decision.reasons[0]
    # off, it denies nothing even when tripped
    assert only(max_drawdown=0).assess(entry(), tripped, 0.3).fraction == 0.3


def test_after_a_reset_the_breaker_measures_from_its_own_peak_and_the_steps_from_the_account() -> None:
    manager = only(max_drawdown=0.25, drawdown_steps="0.1:0.5")
    # 40% below the account's peak, 10% below the breaker's (reset at 80, now 72)
    view = dataclasses.replace(account(equity=72.0, peak=120.0), breaker_peak=80.0)
    assert view.breaker_drawdown == pytest.approx(0.1) and view.drawdown == pytest.approx(0.4)
    decision = manager.assess(entry(), view, 0.3)
    assert decision.fraction == pytest.approx(0.15)  # not denied; the drawdown steps still see 40%
    assert [rule_of(r) for r in decision.reasons] == ["drawdown_steps"]
    deeper = dataclasses.replace(view, equity=59.0)  # 26% below the breaker's peak
    assert rule_of(manager.assess(entry(), deeper, 0.3).reasons[-1]) == "max_drawdown"


def test_every_reason_names_its_rule() -> None:
    manager = RiskManager(merge(RiskLimits(), {"regime_caps": "*/high:0.1"}))
    decision = manager.assess(entry(stop=10.0), account(gross=0.05, regime="up/high"), 0.6)
    assert [rule_of(r) for r in decision.reasons] == ["max_risk_per_trade", "regime_caps"]
    assert rule_of("correlation: ETHUSDT shares a 50% budget with BTCUSDT 50% (corr 0.99): no room") == "correlation"


def test_the_circuit_breaker_is_checked_before_the_daily_limit() -> None:
    manager = only(max_drawdown=0.25, daily_loss_limit=0.05)
    decision = manager.assess(entry(), account(equity=70.0, peak=100.0, day_start=80.0), 0.3)
    assert decision.reasons[0].startswith("max_drawdown:")
    assert len(decision.reasons) == 1


@pytest.mark.parametrize(
    ("equity", "multiplier", "reason"),
    [
        (97.0, 1.0, None),
        (95.0, 0.8, "drawdown_steps: drawdown 5% >= 5%: size x0.8"),
        (88.8, 0.6, "drawdown_steps: drawdown 11.2% >= 10%: size x0.6"),
        (80.0, 0.4, "drawdown_steps: drawdown 20% >= 15%: size x0.4"),
        (100.0, 1.0, None),  # recovered to the peak: full size again
    ],
)
def test_dynamic_risk_scales_size_by_drawdown_step(equity: float, multiplier: float, reason: str | None) -> None:
    manager = only(drawdown_steps="0.05:0.8,0.10:0.6,0.15:0.4")
    decision = manager.assess(entry(), account(equity=equity, peak=100.0, day_start=equity), 0.5)
    assert decision.fraction == pytest.approx(0.5 * multiplier)
    assert decision.reasons == ((reason,) if reason else ())


def test_max_risk_per_trade_caps_the_size_from_the_stop_distance() -> None:
    manager = only(max_risk_per_trade=0.02)
    # stop 4 away from 100 = 4 %; 1.0 of equity would lose 4 % at the stop: cut to 0.02 / 0.04 = 0.5
    decision = manager.assess(entry(stop=4.0), account(), 1.0)
    assert decision.fraction == pytest.approx(0.5)
    assert decision.reasons == ("max_risk_per_trade: risk 4% (stop 4% away) > 2%: size 100% -> 50%",)
    # 0.4 x 4 % = 1.6 % risk: within the limit
    assert manager.assess(entry(stop=4.0), account(), 0.4).reasons == ()
    # no stop: the risk is not measurable and the rule does not apply
    assert manager.assess(entry(), account(), 1.0).fraction == 1.0


def test_per_symbol_cap_counts_existing_exposure() -> None:
    manager = only(max_position=0.5)
    held = account(gross=0.3, exposures={"BTCUSDT": 0.3})
    decision = manager.assess(entry(), held, 0.4)
    assert decision.fraction == pytest.approx(0.2)
    assert decision.reasons == ("max_position: BTCUSDT holds 30%, cap 50%: size 40% -> 20%",)
    full = manager.assess(entry(), account(gross=0.5, exposures={"BTCUSDT": 0.5}), 0.4)
    assert full.denied
    assert full.reasons == ("max_position: BTCUSDT already at 50% of 50%: no room",)
    # another symbol's exposure does not count against this one
    assert manager.assess(entry("SOLUSDT"), held, 0.4).fraction == 0.4


def test_a_second_correlated_symbol_gets_a_reduced_size() -> None:
    manager = only(max_position=0.5, correlation_threshold=0.8)
    holding_btc = account(gross=0.4, exposures={"BTCUSDT": 0.4}, correlations={"BTCUSDT": 0.9})
    decision = manager.assess(entry("ETHUSDT"), holding_btc, 0.4)
    assert decision.fraction == pytest.approx(0.1)  # BTC and ETH share one 50 % budget
    assert decision.reasons == (
        "correlation: ETHUSDT shares a 50% budget with BTCUSDT 40% (corr 0.90): size 40% -> 10%",
    )
    # negative correlation counts too (|rho|)
    inverse = account(gross=0.4, exposures={"BTCUSDT": 0.4}, correlations={"BTCUSDT": -0.85})
    assert manager.assess(entry("ETHUSDT"), inverse, 0.4).fraction == pytest.approx(0.1)


def test_an_uncorrelated_symbol_keeps_its_size() -> None:
    manager = only(max_position=0.5, correlation_threshold=0.8)
    for rho in (0.3, 0.79, math.nan):
        held = account(gross=0.4, exposures={"BTCUSDT": 0.4}, correlations={"BTCUSDT": rho})
        decision = manager.assess(entry("XAUUSDT"), held, 0.4)
        assert decision.fraction == 0.4
        assert decision.reasons == ()


def test_correlated_group_sums_every_member_and_denies_when_full() -> None:
    manager = only(max_position=0.5, correlation_threshold=0.8)
    held = account(
        gross=0.5,
        exposures={"BTCUSDT": 0.3, "ETHUSDT": 0.2, "XAUUSDT": 0.2},
        correlations={"BTCUSDT": 0.9, "ETHUSDT": 0.95, "XAUUSDT": 0.1},
    )
    decision = manager.assess(entry("SOLUSDT"), held, 0.2)
    assert decision.denied
    assert decision.reasons == (
        "correlation: SOLUSDT shares a 50% budget with BTCUSDT 30% (corr 0.90), ETHUSDT 20% (corr 0.95): no room",
    )


def test_regime_caps_lower_the_gross_cap_in_down_high() -> None:
    manager = only(max_gross_exposure=1.0, regime_caps="down/high:0.3,down/*:0.5,*/high:0.7")
    decision = manager.assess(entry(), account(gross=0.2, regime="down/high"), 0.4)
    assert decision.fraction == pytest.approx(0.1)
    assert decision.reasons == (
        "regime_caps: regime down/high (down/high): gross exposure 20%, cap 30%: size 40% -> 10%",
    )
    assert manager.assess(entry(), account(gross=0.2, regime="sideways/high"), 0.4).fraction == pytest.approx(0.4)
    assert manager.assess(entry(), account(gross=0.5, regime="sideways/high"), 0.4).fraction == pytest.approx(0.2)
    assert manager.assess(entry(), account(gross=0.2, regime="up/low"), 0.4).fraction == pytest.approx(0.4)
    denied = manager.assess(entry(), account(gross=0.5, regime="down/low"), 0.4)
    assert denied.denied
    assert denied.reasons == ("regime_caps: regime down/low (down/*): gross exposure 50% already at cap 50%: no room",)


def test_max_gross_exposure_without_a_regime() -> None:
    manager = only(max_gross_exposure=1.0)
    decision = manager.assess(entry(), account(gross=0.9, exposures={"ETHUSDT": 0.9}), 0.4)
    assert decision.fraction == pytest.approx(0.1)
    assert decision.reasons == ("max_gross_exposure: gross exposure 90%, cap 100%: size 40% -> 10%",)


def test_dust_is_dropped() -> None:
    manager = only(max_gross_exposure=1.0, min_fraction=0.001)
    decision = manager.assess(entry(), account(gross=0.9995), 0.4)
    assert decision.denied
    assert decision.reasons[-1] == "min_fraction: size 0.05% below 0.1%: dropped"


def test_rules_compose_in_order_with_a_reason_for_each_cut() -> None:
    manager = RiskManager()  # the defaults
    state = account(
        equity=89.0,  # 11 % drawdown: x0.6
        peak=100.0,
        day_start=90.0,  # -1.1 % today: fine
        gross=0.6,
        exposures={"BTCUSDT": 0.3, "ETHUSDT": 0.3},
        correlations={"BTCUSDT": 0.9, "ETHUSDT": 0.2},
        regime="up/high",
    )
    # ask 1.0 with a 2 % stop: x0.6 -> 0.6; risk 1.2 % ok; SOL holds 0 -> cap 0.5; BTC correlated 0.3 -> 0.2;
    # gross 0.6 under the */high cap 0.7 -> 0.1
    decision = manager.assess(entry("SOLUSDT", stop=2.0), state, 1.0)
    assert decision.fraction == pytest.approx(0.1)
    rules = [reason.split(":")[0] for reason in decision.reasons]
    assert rules == ["drawdown_steps", "max_position", "correlation", "regime_caps"]
