"""The strategy API: a base class with typed, bounded parameters, the context the application supplies, and
the extras a strategy declares (docs/strategy-api.md; import it all from :mod:`domain.strategies.api`).

A strategy is a causal function from candles (and a :class:`Context`) to :class:`Signals`. It declares:

- parameters as class attributes, ``fast = Param(12, low=2, high=200, help="...")``: a default (required), a
  type (that of the default, or ``kind=``), inclusive bounds (what an optimiser searches) or ``choices``;
- ``warmup``: bars of history before its first decision;
- ``history_bars``: the trailing window that gives, at the newest bar, the decision the whole history gives
  (what a live session keeps; ``atb strategies check`` verifies it);
- ``model_type``: the model whose predictions it reads (``context.predictions``), or None;
- ``extras()``: a sizer, risk overrides and the account leverage it is designed for, instead of attributes
  the application would have to guess;
- ``name``, ``version`` (semantic: a saved configuration of another major version is refused), ``description``.

Instances are immutable and validated on construction: ``EmaTrend(fast=20)``; strings are converted by the
parameter's type (``EmaTrend(fast="20")``, as the CLI's ``--param fast=20`` does).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.regime.detector import RegimeSeries, detect
from domain.strategies.base import Signals

_MISSING: Any = object()
_KINDS: tuple[type, ...] = (bool, int, float, str)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class Param:
    """A parameter of a strategy: default, type, inclusive bounds (``low``/``high``) or ``choices``, help.

    The type is the default's (``bool``, ``int``, ``float`` or ``str``) unless ``kind`` says otherwise (an
    ``int`` default of a ``float`` parameter: ``Param(1, kind=float)``). A float is always finite. The bounds
    are what an optimiser searches; rules between parameters go in :meth:`Strategy.validate`.
    """

    __slots__ = ("choices", "default", "file", "help", "high", "kind", "line", "low", "name")

    def __init__(
        self,
        default: Any = _MISSING,
        *,
        low: float | None = None,
        high: float | None = None,
        choices: tuple[Any, ...] | list[Any] | None = None,
        help: str = "",
        kind: type | None = None,
    ) -> None:
        caller = sys._getframe(1)
        self.file: str = caller.f_code.co_filename
        self.line: int = caller.f_lineno
        self.name = ""
        self.kind: type | None = kind if kind is not None else (type(default) if default is not _MISSING else None)
        self.default = default
        self.low, self.high = low, high
        self.choices = tuple(choices) if choices is not None else None
        self.help = help

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._values[self.name]

    def __repr__(self) -> str:
        bounds = f", low={self.low!r}, high={self.high!r}" if self.low is not None or self.high is not None else ""
        return f"Param({self.default!r}{bounds})"

    def problem(self) -> str | None:
        """What is wrong with this declaration (None: nothing), for the loader's one-line errors."""
        if not self.has_default:
            return f"parameter {self.name} has no default"
        if self.kind not in _KINDS:
            kind = getattr(self.kind, "__name__", self.kind)
            return f"parameter {self.name} has type {kind}; use bool, int, float or str"
        for label, bound in (("low", self.low), ("high", self.high)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
                return f"parameter {self.name}: {label} must be a number"
            if isinstance(bound, float) and not math.isfinite(bound):
                return f"parameter {self.name}: {label} must be finite"
        if self.low is not None and self.high is not None and self.low > self.high:
            return f"parameter {self.name}: low ({self.low}) is above high ({self.high})"
        try:
            self.convert(self.default)
        except InvalidParameter as exc:
            return f"default of {exc}"
        return None

    def convert(self, raw: Any) -> Any:
        """``raw`` as this parameter's value: strings are parsed, numbers checked finite and within bounds."""
        value = self._typed(raw)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.low is not None and value < self.low:
                raise InvalidParameter(f"parameter {self.name}: {value!r} is below its lower bound {self.low}")
            if self.high is not None and value > self.high:
                raise InvalidParameter(f"parameter {self.name}: {value!r} is above its upper bound {self.high}")
        if self.choices is not None and value not in self.choices:
            options = ", ".join(str(c) for c in self.choices)
            raise InvalidParameter(f"parameter {self.name}: {value!r} is not one of {options}")
        return value

    def _typed(self, raw: Any) -> Any:
        kind, name = self.kind, self.name
        label = getattr(kind, "__name__", str(kind))
        if isinstance(raw, str) and kind is not str:
            text = raw.strip()
            try:
                if kind is bool:
                    if text.lower() in _TRUE:
                        return True
                    if text.lower() in _FALSE:
                        return False
                    raise ValueError(raw)
                if kind is int:
                    return int(text)
                if kind is float:
                    return self._finite(float(text), raw)
            except ValueError:
                raise InvalidParameter(f"parameter {name}: {raw!r} is not a valid {label}") from None
        if kind is bool and isinstance(raw, bool):
            return raw
        if kind is int and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if kind is float and isinstance(raw, int | float) and not isinstance(raw, bool):
            return self._finite(float(raw), raw)
        if kind is str and isinstance(raw, str):
            return raw
        raise InvalidParameter(f"parameter {name}: {raw!r} is not a valid {label}")

    def _finite(self, value: float, raw: object) -> float:
        # NaN, infinities and 1e400 are refused once, here, for every strategy (docs/adr/0016-numbers.md)
        if not math.isfinite(value):
            raise InvalidParameter(f"parameter {self.name}: {raw!r} is not a finite number")
        return value


@dataclass(frozen=True, slots=True, eq=False)
class Context:
    """What the application supplies beside the candles, each aligned with them (one value per candle).

    ``predictions``: the next-bar return predicted at each bar's close by the model of the strategy's
    ``model_type`` (NaN where the model has no window yet); None when the strategy needs no model.
    ``sentiment``: the Fear & Greed index (0..100) known at each bar's close, when supplied.
    ``regime``: the market regime of each bar; :meth:`regimes` computes it from the candles when absent.
    """

    predictions: FloatArray | None = None
    sentiment: FloatArray | None = None
    regime: RegimeSeries | None = None

    def regimes(self, candles: CandleSeries) -> RegimeSeries:
        """The supplied regime series (when it fits the candles), else one computed from them (causal)."""
        if self.regime is not None and len(self.regime) == len(candles):
            return self.regime
        return detect(candles)

    def window(self, start: int, stop: int) -> Context:
        """The context of bars ``[start, stop)``: what a strategy gets with ``candles.slice(start, stop)``."""
        regime = self.regime
        if regime is not None:
            regime = RegimeSeries(
                regime.trend[start:stop], regime.volatility[start:stop], regime.trend_score[start:stop],
                regime.vol_ratio[start:stop], max(0, regime.warmup - start),
            )  # fmt: skip
        return Context(
            None if self.predictions is None else self.predictions[start:stop],
            None if self.sentiment is None else self.sentiment[start:stop],
            regime,
        )


@dataclass(frozen=True, slots=True)
class Extras:
    """What a strategy asks of the engine beside its signals.

    ``sizer``/``sizer_params``: the position sizer it runs with by default (``domain/risk/sizers.py`` names;
    None: the default sizer); ``risk``: overrides of the risk limits (``domain/risk/limits.py`` names), above
    the settings' and below the command line's; ``leverage``: the account leverage it is designed for (a
    backtest's default), None for a spot (1x) strategy.
    """

    sizer: str | None = None
    sizer_params: Mapping[str, Any] = field(default_factory=dict)
    risk: Mapping[str, Any] = field(default_factory=dict)
    leverage: float | None = None

    def __post_init__(self) -> None:
        if self.leverage is not None and not (math.isfinite(self.leverage) and 1 <= self.leverage <= 100):
            raise InvalidParameter(f"extras: leverage must be a number in [1, 100], got {self.leverage!r}")


class Strategy:
    """Base class of every strategy, built-in or yours. Subclass it, declare :class:`Param` attributes and
    implement :meth:`signals` (and usually :attr:`warmup`)."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""
    parameters: ClassVar[Mapping[str, Param]] = MappingProxyType({})

    __slots__ = ("_values",)
    _values: Mapping[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param):
                    found[key] = value
                elif key in found and not isinstance(value, Param):
                    del found[key]  # a subclass replaced the parameter by a plain attribute
        cls.parameters = MappingProxyType(found)

    def __init__(self, params: Mapping[str, Any] | None = None, /, **overrides: Any) -> None:
        given = {**(params or {}), **overrides}
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            valid = ", ".join(sorted(self.parameters)) or "none"
            raise InvalidParameter(f"unknown parameter {', '.join(unknown)}; valid: {valid}")
        values = {}
        for key, spec in self.parameters.items():
            if not spec.has_default and key not in given:
                raise InvalidParameter(f"parameter {key} has no default")
            values[key] = spec.convert(given[key]) if key in given else spec.convert(spec.default)
        object.__setattr__(self, "_values", MappingProxyType(values))
        self.validate()

    # -- what a strategy author overrides ---------------------------------------------------------------------
    def validate(self) -> None:
        """Rules between parameters (``fast < slow``); raise :class:`InvalidParameter` with a clear message."""

    @property
    def warmup(self) -> int:
        """Bars of history needed before the first decision."""
        return 1

    @property
    def history_bars(self) -> int:
        """Trailing bars that give, at the newest bar, the decision the whole history gives. The default suits
        indicators that forget their start (EMAs, ATR) within ten warm-ups; declare your own otherwise."""
        return max(1000, 10 * self.warmup)

    @property
    def model_type(self) -> str | None:
        """The model type whose predictions :meth:`signals` reads from ``context.predictions`` (None: none)."""
        return None

    def extras(self) -> Extras:
        """The sizer, risk overrides and account leverage this strategy runs with by default."""
        return Extras()

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        """Decisions for every bar of ``candles``; causal: ``signals(c)[t] == signals(c[: t + 1])[t]``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement signals(candles, context)")

    # -- provided ---------------------------------------------------------------------------------------------
    @property
    def params(self) -> Mapping[str, Any]:
        """The parameter values, by name (read-only)."""
        return self._values

    def replace(self, **overrides: Any) -> Strategy:
        """A copy with some parameters changed (validated)."""
        return type(self)({**self._values, **overrides})

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({key}=...)")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and dict(self._values) == dict(other._values)

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._values.items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({args})"
