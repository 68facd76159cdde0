"""What a strategy is: typed, validated parameters and a causal function from candles to signals."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from domain.model.candles import BoolArray, FloatArray
from domain.model.errors import InvalidParameter


@dataclass(frozen=True, slots=True)
class ExitRules:
    """How an open position is managed after entry (all optional; distances are fractions of price).

    ``take_profits``: a ladder of ``(distance, fraction)``: sell ``fraction`` of the entry's quantity at
    ``distance`` above the deciding close (below, for shorts); fractions add up to at most 1.
    ``trailing_pct``: the stop follows ``trailing_pct`` below the highest high since entry (above the
    lowest low for shorts). ``trailing_atr``: the stop follows ``trailing_atr`` x ATR below each bar's
    high (needs ``Signals.atr``). ``break_even``: once price has moved ``break_even`` in favour, the stop
    rises to the entry price. A stop only ever moves in the position's favour, and a level computed at a
    bar's close applies from the next bar on.
    """

    take_profits: tuple[tuple[float, float], ...] = ()
    trailing_pct: float = 0.0
    trailing_atr: float = 0.0
    break_even: float = 0.0

    def __post_init__(self) -> None:
        total = 0.0
        for distance, fraction in self.take_profits:
            if not (distance > 0 and 0 < fraction <= 1):
                raise InvalidParameter("take-profit steps need a distance > 0 and a fraction in (0, 1]")
            total += fraction
        if total > 1 + 1e-12:
            raise InvalidParameter(f"take-profit fractions add up to {total:g}, more than the whole position")
        for name in ("trailing_pct", "trailing_atr", "break_even"):
            value = getattr(self, name)
            if not (value >= 0 and value != float("inf")):
                raise InvalidParameter(f"{name} must be a finite number >= 0")
        if self.trailing_pct >= 1:
            raise InvalidParameter("trailing_pct must be below 1")

    @property
    def manages_stop(self) -> bool:
        """Whether the stop moves after entry (the engine then tracks it bar by bar)."""
        return self.trailing_pct > 0 or self.trailing_atr > 0 or self.break_even > 0


@dataclass(frozen=True, slots=True, eq=False)
class Signals:
    """Decisions taken at each bar's close, as arrays aligned with the candles.

    ``long_entry[t]``: open a long position at the next bar (if flat); ``long_exit[t]``: close it.
    ``short_entry`` / ``short_exit`` likewise. ``stop_distance[t]``: distance in price units from the
    decision bar's close to the protective stop of an entry decided at ``t`` (NaN: no stop).
    ``size[t]``: fraction of equity an entry decided at ``t`` commits (above 1 only with leverage).
    Bars before ``warmup`` carry no decision. ``exits`` says how positions are managed after entry.
    """

    long_entry: BoolArray
    long_exit: BoolArray
    short_entry: BoolArray
    short_exit: BoolArray
    stop_distance: FloatArray
    size: FloatArray
    warmup: int
    exits: ExitRules = ExitRules()
    atr: FloatArray | None = None  # per-bar ATR, for ATR trailing stops and volatility sizing
    confidence: FloatArray | None = None  # per-bar confidence in [0, 1] of the decision (None: 1)

    def event_bars(self) -> np.ndarray:
        """Sorted indices of the bars where any decision is taken (the engine visits only those)."""
        any_event = self.long_entry | self.long_exit | self.short_entry | self.short_exit
        return np.flatnonzero(any_event)

    def at(self, t: int) -> tuple[bool, bool, bool, bool]:
        """The four decisions of bar ``t``, for callers that step one bar at a time."""
        return (
            bool(self.long_entry[t]),
            bool(self.long_exit[t]),
            bool(self.short_entry[t]),
            bool(self.short_exit[t]),
        )


def crossings(fast: FloatArray, slow: FloatArray, warmup: int) -> tuple[BoolArray, BoolArray]:
    """Bars where ``fast`` crosses above ``slow`` and below it (NaN never crosses); none before ``warmup``."""
    n = fast.shape[0]
    above = fast > slow
    valid = ~(np.isnan(fast) | np.isnan(slow))
    both = valid[1:] & valid[:-1]
    up = np.zeros(n, dtype=np.bool_)
    down = np.zeros(n, dtype=np.bool_)
    up[1:] = above[1:] & ~above[:-1] & both
    down[1:] = ~above[1:] & above[:-1] & both
    up[:warmup] = False
    down[:warmup] = False
    return up, down


def no_signals(n: int, warmup: int) -> Signals:
    """All-false signals of length ``n`` (a starting point that strategies fill in)."""
    false = np.zeros(n, dtype=np.bool_)
    return Signals(false, false.copy(), false.copy(), false.copy(), np.full(n, np.nan), np.ones(n), warmup)


def _convert(name: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if raw.strip().lower() in ("none", "null", ""):
            return None
        kind = options[0]
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return _finite(name, float(raw), raw)
        if kind is str:
            return raw
    except ValueError:
        raise InvalidParameter(f"parameter {name}: {raw!r} is not a valid {kind.__name__}") from None
    raise InvalidParameter(f"parameter {name} has an unsupported type {kind}")


def _finite(name: str, value: float, raw: object) -> float:
    """Every float parameter is finite: NaN, infinities and ``1e400`` (a float's infinity) are refused here,
    once, for every strategy (docs/adr/0016-numbers.md); ranges are the class's ``__post_init__``'s."""
    if not math.isfinite(value):
        raise InvalidParameter(f"parameter {name}: {raw!r} is not a finite number")
    return value


def parameter_fields(params_cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The settable parameters of a strategy's dataclass, by name."""
    return {f.name: f for f in dataclasses.fields(params_cls) if f.init}


P = TypeVar("P")


def build_params(params_cls: type[P], overrides: Mapping[str, str | int | float | bool]) -> P:
    """An instance of ``params_cls`` with ``overrides`` (strings are converted by the field's type).

    Unknown names are refused with the list of valid ones; range checks live in the class's
    ``__post_init__`` and raise :class:`InvalidParameter`.
    """
    fields = parameter_fields(params_cls)
    hints = typing.get_type_hints(params_cls)
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        valid = ", ".join(sorted(fields)) or "none"
        raise InvalidParameter(f"unknown parameter {', '.join(unknown)}; valid: {valid}")
    values = {name: _coerce(name, raw, hints[name]) for name, raw in overrides.items()}
    return params_cls(**values)


def _coerce(name: str, raw: str | int | float | bool, kind: Any) -> Any:
    """A value of the field's type: strings are parsed, other values must already have the right type."""
    if isinstance(raw, str):
        return _convert(name, raw, kind)
    options = [a for a in typing.get_args(kind) if a is not type(None)] or [kind]
    for option in options:
        if option is float and isinstance(raw, int | float) and not isinstance(raw, bool):
            return _finite(name, float(raw), raw)
        if option is int and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if option is bool and isinstance(raw, bool):
            return raw
    raise InvalidParameter(f"parameter {name}: {raw!r} is not a valid {getattr(kind, '__name__', kind)}")
