"""Strategy configuration as the application stores and validates it (pydantic), over the domain's
plain dataclasses: a strategy's name, version, parameters, sizer and risk overrides.

A saved configuration records the strategy's version; loading it under another *major* version is refused
(the parameters may mean something else), a newer minor or patch version is accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.risk import DEFAULT_SIZER, create_sizer, describe_sizer, merge_layers
from domain.strategies.registry import create_strategy, describe_params, strategy_class
from domain.strategies.strategy import Strategy


def _major(version: str) -> str:
    return version.split(".", 1)[0]


class StrategyConfig(BaseModel):
    """A validated, versioned strategy configuration (what a session records and can be re-run with)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    params: dict[str, Any] = Field(default_factory=dict)
    sizer: str = DEFAULT_SIZER
    sizer_params: dict[str, Any] = Field(default_factory=dict)
    risk: dict[str, Any] = Field(default_factory=dict)  # overrides on top of the defaults

    @model_validator(mode="after")
    def _check(self) -> StrategyConfig:
        cls = strategy_class(self.name)
        if _major(self.version) != _major(cls.version):
            raise ValueError(
                f"configuration of {self.name} {self.version} does not fit the installed version {cls.version}"
            )
        create_strategy(self.name, self.params)  # raises InvalidParameter on a bad value or name
        create_sizer(self.sizer, self.sizer_params)
        merge_layers(self.risk)
        return self

    @classmethod
    def resolve(cls, name: str, overrides: dict[str, Any] | None = None) -> StrategyConfig:
        """The configuration of strategy ``name`` with ``overrides`` applied, every parameter explicit."""
        strategy = create_strategy(name, overrides or {})
        return cls(
            name=name,
            version=strategy.version,
            params=describe_params(strategy),
            sizer=strategy.extras().sizer or DEFAULT_SIZER,
            sizer_params=dict(strategy.extras().sizer_params),
            risk=dict(strategy.extras().risk),
        )

    def strategy(self) -> Strategy:
        return create_strategy(self.name, self.params)

    def describe(self, global_risk: dict[str, Any] | None = None) -> dict[str, Any]:
        """Everything ``atb strategies show`` prints: parameters with types and defaults, the sizer and
        the merged risk limits (defaults < global settings < this strategy's overrides)."""
        strategy = self.strategy()
        return {
            "name": self.name,
            "version": self.version,
            "description": strategy.description,
            "warmup_bars": strategy.warmup,
            "history_bars": strategy.history_bars,
            "model_type": strategy.model_type,
            "parameters": parameter_rows(strategy),
            "sizer": describe_sizer(create_sizer(self.sizer, self.sizer_params)),
            "risk": merge_layers(global_risk, self.risk).describe(),
        }


def parameter_rows(strategy: Strategy) -> list[dict[str, Any]]:
    """Name, type, default, bounds, current value and help of each parameter of ``strategy``."""
    return [
        {
            "name": name,
            "type": getattr(spec.kind, "__name__", str(spec.kind)),
            "default": spec.default,
            "low": spec.low,
            "high": spec.high,
            "choices": list(spec.choices) if spec.choices is not None else None,
            "value": strategy.params[name],
            "help": spec.help,
        }
        for name, spec in type(strategy).parameters.items()
    ]
