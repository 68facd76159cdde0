"""Composition without code: the schema of a composed strategy's file (docs/composition.md), validated with
pydantic, and the strategy class it becomes (:mod:`domain.strategies.composed`).

Every error is one line, ``FILE: KEY.PATH: what is wrong`` (``my.toml: signals[1].params.fast: ...``;
``signals[0]`` is the first ``[[signals]]`` table). The checks: unknown keys and wrong types (pydantic), the
generator names, each member's settings (by constructing its generator), the stop and exit rules, the sizer
(``create_sizer``), the risk overrides (``merge_layers``), the name (not a built-in's), and finally what any
strategy class must satisfy (:func:`domain.strategies.discovery.problems`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.model.errors import InvalidParameter
from domain.risk.limits import merge_layers
from domain.risk.sizers import create_sizer
from domain.strategies.base import ExitRules
from domain.strategies.components import StopRule
from domain.strategies.composed import (
    MAX_WEIGHT,
    MEMBER_KINDS,
    ML_MEMBER,
    VOTE_SHORT,
    ComposedStrategy,
    Composition,
    Member,
    composed_strategy,
    setting_types,
)
from domain.strategies.discovery import NAME_RULE, VERSION_RULE, problems
from domain.strategies.ml import ML_MODEL_TYPES
from domain.strategies.registry import StrategyLoadError, builtin_catalog
from domain.strategies.strategy import Extras, Param

Scalar = bool | int | float | str


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class StrategySection(_Section):
    """``[strategy]``: who it is."""

    name: str = Field(pattern=NAME_RULE.pattern.removesuffix(r"\Z") + "$")
    version: str = Field(default="1.0.0", pattern=VERSION_RULE.pattern.removesuffix(r"\Z") + "$")
    description: str = Field(default="", max_length=500)


class SignalSection(_Section):
    """One ``[[signals]]`` table: a member of the vote."""

    generator: str
    weight: float = Field(default=1.0, ge=-MAX_WEIGHT, le=MAX_WEIGHT)
    params: dict[str, Scalar] = Field(default_factory=dict)


class VoteSection(_Section):
    """``[vote]``: the consensus needed, and whether the vote may trade short."""

    threshold: float = Field(default=0.5, gt=0, le=1)
    short: bool = False


class StopSection(_Section):
    """``[stop]``: the protective stop of each entry (the nearer of the two when both are set)."""

    atr_period: int = Field(default=14, ge=1, le=500)
    atr_stop: float = Field(default=3.0, ge=0, le=50)
    pct_stop: float = Field(default=0.0, ge=0, lt=1)


class ExitsSection(_Section):
    """``[exits]``: how an open position is managed (:class:`domain.strategies.base.ExitRules`)."""

    trailing_pct: float = Field(default=0.0, ge=0, lt=1)
    trailing_atr: float = Field(default=0.0, ge=0, le=50)
    break_even: float = Field(default=0.0, ge=0, le=10)
    take_profits: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        default_factory=list, max_length=20
    )


class SizingSection(_Section):
    """``[sizing]``: the size of an entry's signal, the sizer it runs with, the account leverage."""

    size: float = Field(default=1.0, ge=0.01, le=100)
    sizer: str | None = None
    sizer_params: dict[str, float | int | str] = Field(default_factory=dict)
    leverage: float | None = Field(default=None, ge=1, le=100)


class ModelSection(_Section):
    """``[model]``: the model an ``ml`` member reads predictions from."""

    type: Literal["basic", "sentiment"] = "basic"


class CompositionFile(_Section):
    """A whole composed strategy's file."""

    strategy: StrategySection
    signals: list[SignalSection] = Field(min_length=1, max_length=32)
    vote: VoteSection = VoteSection()
    stop: StopSection = StopSection()
    exits: ExitsSection = ExitsSection()
    sizing: SizingSection = SizingSection()
    risk: dict[str, Any] = Field(default_factory=dict)
    model: ModelSection | None = None


class CompositionError(StrategyLoadError):
    """A composed strategy's file that cannot be used: one line, ``FILE[:LINE]: KEY.PATH: message``."""

    def __init__(self, source: str, path: str, message: str, line: int = 0) -> None:
        self.source, self.path, self.message, self.line = source, path, message, line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {path}: {message}" if path else f"{where}: {message}")

    def at_line(self, line: int) -> CompositionError:
        """The same error, naming the line of the file it is about (0: unknown)."""
        return CompositionError(self.source, self.path, self.message, line)


def key_path(loc: tuple[int | str, ...]) -> str:
    """``("signals", 1, "params", "fast")`` -> ``signals[1].params.fast``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_message(error: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown key" + (f"; valid: {', '.join(model.model_fields)}" if model is not None else "")
    if kind == "missing":
        return "required, missing"
    if kind in ("model_type", "dict_type"):
        return f"must be a table, got {error['input']!r}"
    if kind == "list_type" and tuple(error["loc"]) == ("signals",):
        return "must be an array of tables: one [[signals]] table per member"
    message = str(error.get("msg", "invalid"))
    if kind == "string_pattern_mismatch" and error["loc"][-1] == "name":
        return f"must be lowercase letters, digits and _ starting with a letter (at most 48), got {error['input']!r}"
    if kind == "string_pattern_mismatch":
        return f"must look like 1.0.0, got {error['input']!r}"
    if "input" in error and not isinstance(error["input"], dict | list):
        message += f", got {error['input']!r}"
    return message


_UNION_TAGS = ("bool", "int", "float", "str")
_SECTIONS: dict[str, type[BaseModel]] = {
    "strategy": StrategySection, "signals": SignalSection, "vote": VoteSection, "stop": StopSection,
    "exits": ExitsSection, "sizing": SizingSection, "model": ModelSection,
}  # fmt: skip


def _owner(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The section model whose key ``loc`` names (for listing the valid keys)."""
    parents = [p for p in loc[:-1] if isinstance(p, str)]
    if not parents:
        return CompositionFile
    return _SECTIONS.get(parents[-1]) if len(parents) == 1 else None


def parse_composition(data: Mapping[str, Any], source: str) -> CompositionFile:
    """The file's content, structurally validated (unknown keys, types, ranges)."""
    try:
        return CompositionFile.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        if len(loc) >= 3 and loc[-1] in _UNION_TAGS and loc[-3] in ("params", "sizer_params"):
            path = key_path(loc[:-1])  # one value of several accepted types: pydantic tags the first type tried
            kinds = "a number or text" if loc[-3] == "sizer_params" else "a number, true/false or text"
            raise CompositionError(source, path, f"must be {kinds}, got {first['input']!r}") from None
        raise CompositionError(source, key_path(loc), _pydantic_message(first, _owner(loc))) from None


def _checked(source: str, path: str, check: Any) -> Any:
    """``check()``, its :class:`InvalidParameter` re-raised as one line naming the file and ``path``."""
    try:
        return check()
    except InvalidParameter as exc:
        raise CompositionError(source, path, str(exc)) from None


def _members(spec: CompositionFile, source: str) -> tuple[Member, ...]:
    members = []
    known = ", ".join(sorted(MEMBER_KINDS))
    for i, signal in enumerate(spec.signals):
        at = f"signals[{i}]"
        if signal.generator not in MEMBER_KINDS:
            raise CompositionError(source, f"{at}.generator", f"unknown signal generator {signal.generator!r}; "
                                   f"available: {known}")  # fmt: skip
        settings = setting_types(signal.generator)
        values: dict[str, Any] = {}
        for key, raw in signal.params.items():
            if key == VOTE_SHORT:
                raise CompositionError(source, f"{at}.params.{key}", "short is the vote's: set it in [vote]")
            if key not in settings:
                valid = ", ".join(settings) or "none"
                raise CompositionError(source, f"{at}.params.{key}", f"unknown setting of {signal.generator}; "
                                       f"valid: {valid}")  # fmt: skip
            check = Param(settings[key][1], kind=settings[key][0])
            check.name = key
            values[key] = _checked(source, f"{at}.params.{key}", lambda c=check, r=raw: c.convert(r))
        generator = MEMBER_KINDS[signal.generator]
        _checked(source, f"{at}.params", lambda g=generator, v=values: g(short=spec.vote.short, **v))
        members.append(Member(signal.generator, float(signal.weight), values))
    ml = [i for i, m in enumerate(members) if m.generator == ML_MEMBER]
    if len(ml) > 1:
        raise CompositionError(source, f"signals[{ml[1]}].generator", "one ml member at most (weights add up: "
                               "give the one member their sum)")  # fmt: skip
    if spec.model is not None and not ml:
        raise CompositionError(source, "model", "only a composition with an ml member reads a model")
    if sum(abs(m.weight) for m in members) <= 0:
        raise CompositionError(source, "signals", "the weights must not all be zero")
    return tuple(members)


def composition_of(spec: CompositionFile, source: str) -> Composition:
    """The domain's :class:`Composition` of a validated file, every part checked where it is declared."""
    if spec.strategy.name in builtin_catalog():
        raise CompositionError(source, "strategy.name", f"{spec.strategy.name!r} is a built-in strategy's name; "
                               "choose another")  # fmt: skip
    members = _members(spec, source)
    stop, exits, sizing = spec.stop, spec.exits, spec.sizing
    _checked(source, "stop", lambda: StopRule(stop.atr_period, stop.atr_stop, stop.pct_stop))
    take_profits = tuple((float(d), float(f)) for d, f in exits.take_profits)
    _checked(source, "exits", lambda: ExitRules(take_profits, exits.trailing_pct, exits.trailing_atr,
                                                exits.break_even))  # fmt: skip
    if sizing.sizer is not None:
        _checked(source, "sizing.sizer_params" if sizing.sizer_params else "sizing.sizer",
                 lambda: create_sizer(str(sizing.sizer), dict(sizing.sizer_params)))  # fmt: skip
    elif sizing.sizer_params:
        raise CompositionError(source, "sizing.sizer_params", "parameters of which sizer? set sizing.sizer too")
    if sizing.size > max(1.0, sizing.leverage or 1.0):
        raise CompositionError(source, "sizing.size", f"{sizing.size:g} is above 1 and above the leverage; "
                               "a size above 1 needs sizing.leverage at least as large")  # fmt: skip
    for key in spec.risk:
        _checked(source, f"risk.{key}", lambda k=key: merge_layers({k: spec.risk[k]}))
    _checked(source, "sizing.leverage", lambda: Extras(leverage=sizing.leverage))
    return Composition(
        name=spec.strategy.name, members=members, version=spec.strategy.version,
        description=spec.strategy.description, threshold=spec.vote.threshold, short=spec.vote.short,
        atr_period=stop.atr_period, atr_stop=stop.atr_stop, pct_stop=stop.pct_stop, take_profits=take_profits,
        trailing_pct=exits.trailing_pct, trailing_atr=exits.trailing_atr, break_even=exits.break_even,
        size=sizing.size, sizer=sizing.sizer, sizer_params=dict(sizing.sizer_params), risk=dict(spec.risk),
        leverage=sizing.leverage, model=spec.model.type if spec.model is not None else ML_MODEL_TYPES[0],
        source=source,
    )  # fmt: skip


def strategy_from_mapping(data: Mapping[str, Any], source: str) -> type[ComposedStrategy]:
    """The strategy class a composed strategy's file declares (``data``: its parsed content; ``source``: the file,
    for messages). Raises :class:`CompositionError` (one line) on anything wrong."""
    composition = composition_of(parse_composition(data, source), source)
    cls: type[ComposedStrategy] = _checked(source, "strategy", lambda: composed_strategy(composition))
    found = problems(cls, source)
    if found:
        named = re.search(r"parameter (\w+)", found[0].message)
        path = cls.param_paths.get(named.group(1), "strategy") if named else "strategy"
        raise CompositionError(source, path, found[0].message)
    return cls
