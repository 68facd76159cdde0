"""Strategies composed without code: a :class:`Composition` (what a TOML file declares, docs/composition.md)
becomes a :class:`~domain.strategies.strategy.Strategy` subclass with :func:`composed_strategy`.

The class trades like ``ensemble_weighted``, with the same components: each member (a registered signal
generator, or ``ml``, the model's prediction signal) votes its direction times its confidence, weighted
(:func:`~domain.strategies.components.weighted_vote`); the vote becomes entries, exits, stops and sizes with
:func:`~domain.strategies.components.compose`. Every number of the composition is a :class:`Param` whose
default is the declared value, so ``--param threshold=0.6`` and an optimiser work on it as on any strategy:

- ``threshold``, ``short``; ``atr_period``, ``atr_stop``, ``pct_stop``; ``trailing_pct``, ``trailing_atr``,
  ``break_even``; ``size``; ``model`` (with an ``ml`` member only);
- per member, ``{prefix}_weight`` and ``{prefix}_{setting}`` for each of its generator's settings, where the
  prefix is the generator's name (``ema_crossover_fast``), or ``{name}_{k}`` (k = 1, 2, ...) when the
  composition has several members of one generator (``momentum_2_period``).

``short`` is the vote's: it is handed to every member, as ``ensemble_weighted`` does. The sizer, its
parameters, the risk overrides, the leverage and the take-profit ladder are fixed by the composition (they
are what :meth:`Strategy.extras` and the exit rules return), not parameters.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.strategies.base import ExitRules, Signals
from domain.strategies.components import GENERATORS, SignalFrame, StopRule, compose, weighted_vote
from domain.strategies.ml import ML_MODEL_TYPES, PredictionSignal, require_predictions
from domain.strategies.strategy import Context, Extras, Param, Strategy

ML_MEMBER = PredictionSignal.name
MAX_WEIGHT = 1000.0
"""The largest |weight| of a member (as ``ensemble_weighted``'s): weights are relative."""

MEMBER_KINDS: Mapping[str, type[Any]] = MappingProxyType({**GENERATORS, ML_MEMBER: PredictionSignal})
"""What a member can be: a registered signal generator, or the model's prediction signal."""

SETTING_BOUNDS: Mapping[tuple[str, str], tuple[float, float]] = MappingProxyType({
    ("ema_crossover", "fast"): (1, 1000),
    ("ema_crossover", "slow"): (2, 5000),
    ("momentum", "period"): (1, 2000),
    ("momentum", "threshold"): (1e-6, 10.0),
    ("ml", "entry"): (1e-9, 1.0),
    ("ml", "exit"): (-1.0, 1.0),
    ("ml", "scale"): (1e-9, 1.0),
    ("ml", "smooth"): (1, 500),
})  # fmt: skip
"""The bounds of a member's settings as parameters (what an optimiser searches), those of the built-ins."""

VOTE_SHORT = "short"
"""The generator setting that is the vote's, never a member's."""


@dataclass(frozen=True, slots=True)
class Member:
    """One voter: ``generator`` (a :data:`MEMBER_KINDS` name), its ``weight`` (negative: contrarian) and its
    settings (the generator's dataclass fields, ``short`` excepted; missing ones take the generator's default)."""

    generator: str
    weight: float = 1.0
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Composition:
    """A composed strategy as declared (docs/composition.md); defaults are ``ensemble_weighted``'s."""

    name: str
    members: tuple[Member, ...]
    version: str = "1.0.0"
    description: str = ""
    threshold: float = 0.5
    short: bool = False
    atr_period: int = 14
    atr_stop: float = 3.0
    pct_stop: float = 0.0
    take_profits: tuple[tuple[float, float], ...] = ()
    trailing_pct: float = 0.0
    trailing_atr: float = 0.0
    break_even: float = 0.0
    size: float = 1.0
    sizer: str | None = None
    sizer_params: Mapping[str, Any] = field(default_factory=dict)
    risk: Mapping[str, Any] = field(default_factory=dict)
    leverage: float | None = None
    model: str = "basic"
    source: str = ""  # the file it was declared in (for messages)


def setting_types(generator: str) -> dict[str, tuple[type, Any]]:
    """A member kind's settings: name -> (type, default), ``short`` excepted."""
    cls = MEMBER_KINDS[generator]
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f.default) for f in dataclasses.fields(cls) if f.init and f.name != VOTE_SHORT}


def member_prefixes(members: tuple[Member, ...] | list[Member]) -> list[str]:
    """The parameter prefix of each member: its generator's name, numbered when the name repeats."""
    counts: dict[str, int] = {}
    for m in members:
        counts[m.generator] = counts.get(m.generator, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for m in members:
        seen[m.generator] = seen.get(m.generator, 0) + 1
        out.append(m.generator if counts[m.generator] == 1 else f"{m.generator}_{seen[m.generator]}")
    return out


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a member's values live among the class's parameters."""

    generator: str
    weight: str  # the parameter holding the weight
    settings: tuple[tuple[str, str], ...]  # (generator setting, parameter name)


class ComposedStrategy(Strategy):
    """Base of the classes :func:`composed_strategy` builds: a weighted vote of members with an ATR or
    percentage stop, exit rules, a size, and the extras its composition declares."""

    composition: ClassVar[Composition]
    param_paths: ClassVar[Mapping[str, str]] = MappingProxyType({})
    """Each parameter's key path in the composition's file (``signals[0].params.fast``), for messages."""
    _slots: ClassVar[tuple[_Slot, ...]] = ()

    __slots__ = ()

    def validate(self) -> None:
        self.stop_rule()
        self.exit_rules()
        self.members()
        weights = [w for _, w in self.members()]
        if sum(abs(w) for w in weights) <= 0:
            raise InvalidParameter("ensemble weights must not all be zero")

    # -- the parts, from the current parameter values -------------------------------------------------------
    def members(self) -> list[tuple[Any, float]]:
        """Every member as (generator, weight), in the composition's order; each is validated on construction."""
        out = []
        for slot in self._slots:
            values = {setting: self.params[param] for setting, param in slot.settings}
            try:
                generator = MEMBER_KINDS[slot.generator](short=self.params["short"], **values)
            except InvalidParameter as exc:
                raise InvalidParameter(f"member {slot.weight.removesuffix('_weight')}: {exc}") from None
            out.append((generator, float(self.params[slot.weight])))
        return out

    def stop_rule(self) -> StopRule:
        p = self.params
        return StopRule(int(p["atr_period"]), float(p["atr_stop"]), float(p["pct_stop"]))

    def exit_rules(self) -> ExitRules:
        p = self.params
        return ExitRules(
            self.composition.take_profits, float(p["trailing_pct"]), float(p["trailing_atr"]), float(p["break_even"])
        )

    def _has_ml(self) -> bool:
        return any(slot.generator == ML_MEMBER for slot in self._slots)

    # -- the API --------------------------------------------------------------------------------------------
    @property
    def model_type(self) -> str | None:
        return str(self.params["model"]) if self._has_ml() else None

    @property
    def warmup(self) -> int:
        candle_only = [g.warmup for g, _ in self.members() if not isinstance(g, PredictionSignal)]
        return int(max([*candle_only, int(self.params["atr_period"]) + 1]))

    @property
    def history_bars(self) -> int:
        return max(1000, 20 * self.warmup, 40 * int(self.params["atr_period"]))

    def extras(self) -> Extras:
        c = self.composition
        return Extras(c.sizer, dict(c.sizer_params), dict(c.risk), c.leverage)

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        frames: list[SignalFrame] = []
        weights: list[float] = []
        predictions: list[tuple[PredictionSignal, float]] = []
        for generator, weight in self.members():
            if isinstance(generator, PredictionSignal):
                predictions.append((generator, weight))  # the model's vote comes last, as in ensemble_weighted
                continue
            frames.append(generator.generate(candles))
            weights.append(weight)
        for generator, weight in predictions:
            values = require_predictions(f"{self.name} with an {ML_MEMBER} member", candles, context.predictions)
            frames.append(generator.generate(candles, values))
            weights.append(weight)
        frame = weighted_vote(frames, weights, float(self.params["threshold"]))
        return compose(frame, candles, self.stop_rule(), float(self.params["size"]), self.exit_rules(), self.warmup)


def _param(value: Any, kind: type, file: str, low: float | None = None, high: float | None = None,
           choices: tuple[Any, ...] | None = None, help: str = "") -> Param:  # fmt: skip
    spec = Param(value, low=low, high=high, choices=choices, help=help, kind=kind)
    spec.file, spec.line = file, 0  # problems name the composition's file, not this module
    return spec


def composed_strategy(composition: Composition) -> type[ComposedStrategy]:
    """A strategy class for ``composition``: named as declared, its numbers as parameters (defaults: the declared
    values). Nothing is validated beyond what the parameters check; :func:`domain.strategies.discovery.problems`
    and constructing it do the rest."""
    c, file = composition, composition.source or "<composition>"
    if not c.members:
        raise InvalidParameter("a composition needs at least one member")
    for m in c.members:
        if m.generator not in MEMBER_KINDS:
            known = ", ".join(sorted(MEMBER_KINDS))
            raise InvalidParameter(f"unknown signal generator {m.generator!r}; available: {known}")
    namespace: dict[str, Any] = {
        "name": c.name,
        "version": c.version,
        "description": c.description,
        "composition": c,
        "__module__": __name__,
        "__qualname__": f"Composed[{c.name}]",
        "__slots__": (),
        "__doc__": c.description or f"A strategy composed in {file}.",
    }
    paths: dict[str, str] = {}

    def add(name: str, path: str, spec: Param) -> None:
        namespace[name] = spec
        paths[name] = path

    lev = max(1.0, c.leverage or 1.0)
    add("threshold", "vote.threshold", _param(c.threshold, float, file, 1e-9, 1.0, help="consensus score to hold"))
    add("short", "vote.short", _param(c.short, bool, file, help="members may vote short, and the vote trades it"))
    add("atr_period", "stop.atr_period", _param(c.atr_period, int, file, 1, 500, help="bars of the ATR"))
    add("atr_stop", "stop.atr_stop", _param(c.atr_stop, float, file, 0.0, 50.0, help="stop in ATRs (0: none)"))
    add("pct_stop", "stop.pct_stop", _param(c.pct_stop, float, file, 0.0, 0.99, help="stop as a fraction (0: none)"))
    add("trailing_pct", "exits.trailing_pct", _param(c.trailing_pct, float, file, 0.0, 0.99))
    add("trailing_atr", "exits.trailing_atr", _param(c.trailing_atr, float, file, 0.0, 50.0))
    add("break_even", "exits.break_even", _param(c.break_even, float, file, 0.0, 10.0))
    add("size", "sizing.size", _param(c.size, float, file, 0.01, lev, help="fraction of equity an entry commits"))
    slots = []
    for i, (member, prefix) in enumerate(zip(c.members, member_prefixes(c.members), strict=True)):
        weight = f"{prefix}_weight"
        add(weight, f"signals[{i}].weight", _param(member.weight, float, file, -MAX_WEIGHT, MAX_WEIGHT))
        settings = []
        for setting, (kind, default) in setting_types(member.generator).items():
            low, high = SETTING_BOUNDS.get((member.generator, setting), (None, None))
            value = member.settings.get(setting, default)
            add(f"{prefix}_{setting}", f"signals[{i}].params.{setting}", _param(value, kind, file, low, high))
            settings.append((setting, f"{prefix}_{setting}"))
        slots.append(_Slot(member.generator, weight, tuple(settings)))
    if any(m.generator == ML_MEMBER for m in c.members):
        add(
            "model",
            "model.type",
            _param(c.model, str, file, choices=ML_MODEL_TYPES, help="the model an ml member reads"),
        )
    namespace["param_paths"] = MappingProxyType(paths)
    namespace["_slots"] = tuple(slots)
    cls = type(f"Composed_{c.name}", (ComposedStrategy,), namespace)
    return typing.cast(type[ComposedStrategy], cls)
