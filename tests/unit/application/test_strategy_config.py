"""A saved strategy configuration: validated against a catalog (built-ins, or one with user strategies), its
major version guarded, every parameter explicit, and described the way `atb strategies show` prints it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from application.strategy_config import StrategyConfig, describe_strategy
from domain.model.errors import InvalidParameter
from domain.strategies.api import Context, Extras, Param, Signals, Strategy, no_signals
from domain.strategies.registry import USER, Entry, builtin_catalog


class Mine(Strategy):
    name = "mine"
    version = "2.3.0"
    period = Param(10, low=2, high=50, help="bars")

    def extras(self) -> Extras:
        return Extras(sizer="fixed_risk", sizer_params={"risk_per_trade": 0.005}, risk={"max_position": 0.4})

    def signals(self, candles: object, context: Context) -> Signals:
        return no_signals(0, 1)


CATALOG = builtin_catalog().with_entries([Entry(Mine, USER, __file__, "")])


def test_resolve_makes_every_parameter_and_the_declared_extras_explicit() -> None:
    config = StrategyConfig.resolve("mine", {"period": "20"}, CATALOG)
    assert config.version == "2.3.0"
    assert config.params == {"period": 20}
    assert (config.sizer, config.sizer_params, config.risk) == ("fixed_risk", {"risk_per_trade": 0.005},
                                                                {"max_position": 0.4})  # fmt: skip
    assert config.strategy(CATALOG) == Mine(period=20)


def test_another_major_version_is_refused_a_newer_minor_accepted() -> None:
    data = StrategyConfig.resolve("mine", catalog=CATALOG).model_dump()
    ok = StrategyConfig.model_validate({**data, "version": "2.0.1"}, context={"catalog": CATALOG})
    assert ok.version == "2.0.1"
    with pytest.raises(ValidationError, match=r"does not fit the installed version 2\.3\.0"):
        StrategyConfig.model_validate({**data, "version": "1.9.0"}, context={"catalog": CATALOG})


def test_a_user_strategy_needs_the_catalog_that_has_it() -> None:
    data = StrategyConfig.resolve("mine", catalog=CATALOG).model_dump()
    with pytest.raises(InvalidParameter, match="unknown strategy 'mine'"):
        StrategyConfig.model_validate(data)  # the built-ins only


@pytest.mark.parametrize(
    "change",
    [{"params": {"period": 500}}, {"params": {"nope": 1}}, {"sizer": "moon"}, {"risk": {"max_moon": 1}},
     {"extra": 1}],
)  # fmt: skip
def test_bad_values_are_refused(change: dict[str, object]) -> None:
    data = StrategyConfig.resolve("ema_trend").model_dump()
    with pytest.raises((ValidationError, InvalidParameter)):
        StrategyConfig.model_validate({**data, **change})


def test_describe_is_what_strategies_show_prints() -> None:
    config = StrategyConfig.resolve("momentum_leverage")
    described = config.describe()
    assert described == describe_strategy(config.strategy())
    assert described["risk"]["max_position"] == 2.0  # the strategy's own override over the default
    rows = {row["name"]: row for row in described["parameters"]}
    assert (rows["leverage"]["low"], rows["leverage"]["high"], rows["leverage"]["value"]) == (0.01, 10.0, 2.0)
