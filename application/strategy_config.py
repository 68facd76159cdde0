"""Strategy configuration as the application stores and validates it (pydantic): a strategy's name, version,
parameters, sizer and risk overrides, checked against a catalog of strategies (the built-ins unless one is
given in the validation context: ``StrategyConfig.model_validate(data, context={"catalog": catalog})``).

A saved configuration records the strategy's version; loading it under another *major* version is refused
(the parameters may mean something else), a newer minor or patch version is accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from domain.risk import DEFAULT_SIZER, create_sizer, describe_sizer, merge_layers
from domain.strategies.registry import Catalog, builtin_catalog, describe_params
from domain.strategies.strategy import Strategy


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def _catalog(info: ValidationInfo | None) -> Catalog:
    context = info.context if info is not None else None
    found = context.get("catalog") if isinstance(context, dict) else None
    return found if isinstance(found, Catalog) else builtin_catalog()


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
    def _check(self, info: ValidationInfo) -> StrategyConfig:
        catalog = _catalog(info)
        cls = catalog.entry(self.name).cls  # an unknown name: InvalidParameter listing the known ones
        if _major(self.version) != _major(cls.version):
            raise ValueError(
                f"configuration of {self.name} {self.version} does not fit the installed version {cls.version}"
            )
        catalog.create(self.name, self.params)  # raises InvalidParameter on a bad value or name
        create_sizer(self.sizer, self.sizer_params)
        merge_layers(self.risk)
        return self

    @classmethod
    def resolve(
        cls, name: str, overrides: dict[str, Any] | None = None, catalog: Catalog | None = None
    ) -> StrategyConfig:
        """The configuration of strategy ``name`` with ``overrides`` applied, every parameter explicit."""
        catalog = catalog or builtin_catalog()
        strategy = catalog.create(name, overrides or {})
        extras = strategy.extras()
        data = {
            "name": name, "version": strategy.version, "params": describe_params(strategy),
            "sizer": extras.sizer or DEFAULT_SIZER, "sizer_params": dict(extras.sizer_params),
            "risk": dict(extras.risk),
        }  # fmt: skip
        return cls.model_validate(data, context={"catalog": catalog})

    def strategy(self, catalog: Catalog | None = None) -> Strategy:
        return (catalog or builtin_catalog()).create(self.name, self.params)

    def describe(self, global_risk: dict[str, Any] | None = None, catalog: Catalog | None = None) -> dict[str, Any]:
        """Everything ``atb strategies show`` prints (see :func:`describe_strategy`), with this configuration's
        sizer and risk overrides."""
        described = describe_strategy(self.strategy(catalog), global_risk)
        described["sizer"] = describe_sizer(create_sizer(self.sizer, self.sizer_params))
        described["risk"] = merge_layers(global_risk, self.risk).describe()
        return described


def describe_strategy(strategy: Strategy, global_risk: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything ``atb strategies show`` prints: version, warm-up, live history, parameters (types, defaults,
    bounds, help), the sizer and the merged risk limits (defaults < global settings < the strategy's own)."""
    extras = strategy.extras()
    return {
        "name": strategy.name,
        "version": strategy.version,
        "description": strategy.description,
        "warmup_bars": strategy.warmup,
        "history_bars": strategy.history_bars,
        "model_type": strategy.model_type,
        "parameters": parameter_rows(strategy),
        "sizer": describe_sizer(create_sizer(extras.sizer or DEFAULT_SIZER, dict(extras.sizer_params))),
        "risk": merge_layers(global_risk, dict(extras.risk) or None).describe(),
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
