"""Position sizers: how much of the equity an entry commits, before the risk manager's limits.

Each sizer is a small frozen dataclass with a registry ``name`` and validated parameters; ``fraction``
returns a notional fraction of equity (0: no entry) and never raises for missing data: where an input it
needs is missing (no stop, no ATR, too few trades) it uses the documented fallback of its parameters.

=====================  ==========================================================================
name                   fraction
=====================  ==========================================================================
requested (default)    the strategy's own ``size`` (``proposal.requested``): behaviour unchanged
fixed_fraction         ``size``
fixed_risk             ``risk_per_trade / (stop_distance / price)``: lose ``risk_per_trade`` at the stop
volatility_target      ``target_vol / (atr / price)`` (ATR over price as the per-bar volatility proxy)
kelly                  ``fraction_of_kelly x (W - (1 - W) / R)``, capped; ``fallback`` before ``min_trades``
confidence_weighted    a base sizer's fraction x the signal's confidence (0 below ``threshold``)
=====================  ==========================================================================

:func:`create_sizer` builds one by name from text or number parameters (settings, CLI, strategy config).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from domain.model.errors import InvalidParameter
from domain.risk.types import AccountView, EntryProposal, PositionSizer

DEFAULT_SIZER = "requested"


@runtime_checkable
class ExplainsZero(PositionSizer, Protocol):
    """A sizer that can say why it sized an entry at 0 (the risk manager records it as the reason)."""

    def why_zero(self, proposal: EntryProposal, account: AccountView) -> str: ...


def _check(name: str, value: float, low: float, high: float = math.inf, *, low_open: bool = True) -> None:
    """Refuse NaN and values outside ``(low, high]`` (``[low, high]`` when not ``low_open``)."""
    above = value > low if low_open else value >= low
    if not (above and value <= high):
        bracket = "(" if low_open else "["
        raise InvalidParameter(f"{name} must be in {bracket}{low:g}, {high:g}], got {value!r}")


@dataclass(frozen=True, slots=True)
class Requested:
    """The strategy's requested fraction (its ``size`` parameter), unchanged: the default sizer."""

    name: ClassVar[str] = "requested"

    def fraction(self, proposal: EntryProposal, account: AccountView) -> float:
        return proposal.requested

    def why_zero(self, proposal: EntryProposal, account: AccountView) -> str:
        return f"the strategy requested {proposal.requested:g}"


@dataclass(frozen=True, slots=True)
class FixedFraction:
    """Every entry commits ``size`` of the equity (a notional fraction; above 1 only with leverage)."""

    name: ClassVar[str] = "fixed_fraction"
    size: float = 0.25

    def __post_init__(self) -> None:
        _check("size", self.size, 0.0, 10.0)

    def fraction(self, proposal: EntryProposal, account: AccountView) -> float:
        return self.size

    def why_zero(self, proposal: EntryProposal, account: AccountView) -> str:
        return "fixed fraction is 0"


@dataclass(frozen=True, slots=True)
class FixedRisk:
    """Lose ``risk_per_trade`` of the equity if the stop is hit: ``risk_per_trade / (stop_distance / price)``.

    Capped at ``max_fraction`` (a tight stop would otherwise ask for leverage). Without a stop distance
    (NaN or <= 0) the risk cannot be measured and the entry gets ``no_stop_fraction``: 0 by default, so the
    entry is denied with the reason "no stop distance"; set it (e.g. 0.1) to trade stop-less signals anyway.
    """

    name: ClassVar[str] = "fixed_risk"
    risk_per_trade: float = 0.01
    max_fraction: float = 1.0
    no_stop_fraction: float = 0.0

    def __post_init__(self) -> None:
        _check("risk_per_trade", self.risk_per_trade, 0.0, 1.0)
        _check("max_fraction", self.max_fraction, 0.0, 10.0)
        _check("no_stop_fraction", self.no_stop_fraction, 0.0, self.max_fraction, low_open=False)

    def fraction(self, proposal: EntryProposal, account: AccountView) -> float:
        stop, price = proposal.stop_distance, proposal.price
        if not (stop > 0 and price > 0):  # NaN fails too
            return self.no_stop_fraction
        return min(self.max_fraction, self.risk_per_trade * price / stop)

    def why_zero(self, proposal: EntryProposal, account: AccountView) -> str:
        return "no stop distance to size the risk from (no_stop_fraction is 0)"


@dataclass(frozen=True, slots=True)
class VolatilityTarget:
    """Scale the position so its per-bar volatility is ``target_vol``: ``target / (atr / price)``.

    ATR over price stands in for the per-bar volatility of returns (it runs somewhat above the standard
    deviation of close-to-close returns, so sizes are a little conservative). ``target_vol`` is per bar
    when ``periods_per_year`` is 0; otherwise it is annualised and divided by ``sqrt(periods_per_year)``
    (8760 for hourly bars, 365 for daily). Capped at ``max_fraction``; ``no_atr_fraction`` (default 0: no
    entry) applies while the ATR is unknown (NaN or <= 0).
    """

    name: ClassVar[str] = "volatility_target"
    target_vol: float = 0.01
    periods_per_year: float = 0.0
    max_fraction: float = 1.0
    no_atr_fraction: float = 0.0

    def __post_init__(self) -> None:
        _check("target_vol", self.target_vol, 0.0, 10.0)
        _check("periods_per_year", self.periods_per_year, 0.0, 1e7, low_open=False)
        _check("max_fraction", self.max_fraction, 0.0, 10.0)
        _check("no_atr_fraction", self.no_atr_fraction, 0.0, self.max_fraction, low_open=False)

    @property
    def per_bar_target(self) -> float:
        """The target volatility per bar."""
        if self.periods_per_year > 0:
            return self.target_vol / math.sqrt(self.periods_per_year)
        return self.target_vol

    def fraction(self, proposal: EntryProposal, account: AccountView) -> float:
        atr, price = proposal.atr, proposal.price
        if not (atr > 0 and price > 0):
            return self.no_atr_fraction
        return min(self.max_fraction, self.per_bar_target * price / atr)

    def why_zero(self, proposal: EntryProposal, account: AccountView) -> str:
        return "no ATR to measure volatility (no_atr_fraction is 0)"


@dataclass(frozen=True, slots=True)
class KellyCapped:
    """A fraction of the Kelly bet from the closed trades so far, capped.

    Kelly: ``W - (1 - W) / R`` with ``W`` the win rate and ``R`` the payoff (average win / average loss);
    the sizer commits ``fraction_of_kelly`` of it (half Kelly by default: full Kelly is too volatile when
    ``W`` and ``R`` are estimates), at most ``cap``. Until ``min_trades`` trades have closed (or while the
    statistics are NaN) it commits ``fallback``. A Kelly fraction <= 0 (no edge) gives 0: no entry.
    """

    name: ClassVar[str] = "kelly"
    cap: float = 0.5
    fraction_of_kelly: float = 0.5
    min_trades: int = 20
    fallback: float = 0.1

    def __post_init__(self) -> None:
        _check("cap", self.cap, 0.0, 10.0)
        _check("fraction_of_kelly", self.fraction_of_kelly, 0.0, 1.0)
        if self.min_trades < 0:
            raise InvalidParameter(f"min_trades must be >= 0, got {self.min_trades}")
        _check("fallback", self.fallback, 0.0, self.cap, low_open=False)

    @staticmethod
    def kelly(win_rate: float, payoff: float) -> float:
        """The full Kelly fraction ``W - (1 - W) / R`` (NaN when the statistics are missing or R <= 0)."""
        if not (0 <= win_rate <= 1 and payoff > 0):
            return math.nan
        return win_rate - (1.0 - win_rate) / payoff

    def fraction(self, proposal: EntryProposal, account: AccountView) -> float:
        full = self.kelly(account.win_rate, account.payoff)
        if account.closed_trades < self.min_trades or math.isnan(full):
            return self.fallback
        return min(self.cap, max(0.0, self.fraction_of_kelly * full))

    def why_zero(self, proposal: EntryProposal, account: AccountView) -> str:
        if account.closed_trades < self.min_trades:
            return f"fewer than {self.min_trades} closed trades and the fallback is 0"
        full = self.kelly(account.win_rate, account.payoff)
        return f"no edge: Kelly {full:.3f} from win rate {account.win_rate:.1%} and payoff {account.payoff:.2f}"


@dataclass(frozen=True, slots=True)
class ConfidenceWeighted:
    """A base sizer's fraction scaled by the signal's confidence (a model's or an ensemble's).

    Below ``threshold`` confidence the entry gets 0 (skipped); above it the base fraction is multiplied by
    ``max(confidence, floor)`` so a barely-confident signal still commits ``floor`` of the base size.
    Confidence is clipped to [0, 1]; NaN counts as 0.
    """

    name: ClassVar[str] = "confidence_weighted"
    base: PositionSizer = dataclasses.field(default_factory=Requested)
    floor: float = 0.0
    threshold: float = 0.0

    def __post_init__(self) -> None:
        _check("floor", self.floor, 0.0, 1.0, low_open=False)
        _check("threshold", self.threshold, 0.0, 1.0, low_open=False)
        if isinstance(self.base, ConfidenceWeighted):
            raise InvalidParameter("confidence_weighted cannot wrap another confidence_weighted sizer")

    def scale(self, confidence: float) -> float:
        """The multiplier applied to the base fraction at ``confidence``."""
        c = 0.0 if math.isnan(confidence) else min(1.0, max(0.0, confidence))
        if c < self.threshold:
            return 0.0
        return max(c, self.floor)

    def fraction(self, proposal: EntryProposal, account: AccountView) -> float:
        s = self.scale(proposal.confidence)
        return 0.0 if s == 0 else s * self.base.fraction(proposal, account)

    def why_zero(self, proposal: EntryProposal, account: AccountView) -> str:
        if self.scale(proposal.confidence) == 0:
            return f"confidence {proposal.confidence:.2f} below threshold {self.threshold:g}"
        if isinstance(self.base, ExplainsZero):
            return self.base.why_zero(proposal, account)
        return f"base sizer {self.base.name} gave 0"


_SIZERS: dict[str, type[Any]] = {
    cls.name: cls for cls in (Requested, FixedFraction, FixedRisk, VolatilityTarget, KellyCapped, ConfidenceWeighted)
}


def sizer_names() -> list[str]:
    """Registered sizer names, sorted."""
    return sorted(_SIZERS)


def _param_fields(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """The settable numeric parameters of a sizer class, by name."""
    return {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != "base"}


def _number(sizer: str, key: str, raw: float | str, kind: Any) -> float | int:
    try:
        if isinstance(raw, bool):
            raise ValueError(raw)
        if kind is int:
            value = float(raw)
            if not value.is_integer():
                raise ValueError(raw)
            return int(value)
        value = float(raw)
        if not math.isfinite(value):  # NaN, infinities, 1e400: refused for every sizer (docs/adr/0016-numbers.md)
            raise ValueError(raw)
        return value
    except ValueError:
        kind_name = "whole number" if kind is int else "number"
        raise InvalidParameter(
            f"sizer {sizer}: parameter {key}: {raw!r} is not a valid {kind_name} (a finite one)"
        ) from None


def create_sizer(name: str, params: Mapping[str, float | str] | None = None) -> PositionSizer:
    """The sizer registered as ``name`` with ``params`` (numbers, or text as read from settings or a CLI).

    ``confidence_weighted`` takes ``base`` (a sizer name, default ``requested``), ``floor`` and
    ``threshold``; its other parameters go to the base sizer. Unknown sizers or parameters, and values
    outside their domain, raise :class:`InvalidParameter` naming the valid ones.
    """
    params = dict(params or {})
    cls = _SIZERS.get(name)
    if cls is None:
        raise InvalidParameter(f"unknown sizer {name!r}; valid: {', '.join(sizer_names())}")
    if cls is ConfidenceWeighted:
        base_name = str(params.pop("base", DEFAULT_SIZER))
        if base_name == ConfidenceWeighted.name:
            raise InvalidParameter("confidence_weighted cannot wrap another confidence_weighted sizer")
        own = {k: params.pop(k) for k in ("floor", "threshold") if k in params}
        try:
            base = create_sizer(base_name, params)
        except InvalidParameter as e:
            raise InvalidParameter(f"confidence_weighted base: {e}") from None
        return ConfidenceWeighted(base, **{k: _number(name, k, v, float) for k, v in own.items()})
    fields = _param_fields(cls)
    unknown = sorted(set(params) - set(fields))
    if unknown:
        valid = ", ".join(sorted(fields)) or "none"
        raise InvalidParameter(f"sizer {name}: unknown parameter {', '.join(unknown)}; valid: {valid}")
    hints = typing.get_type_hints(cls)
    values = {k: _number(name, k, v, hints[k]) for k, v in params.items()}
    sizer: PositionSizer = cls(**values)
    return sizer


def describe_sizer(sizer: PositionSizer) -> dict[str, object]:
    """The sizer's name and parameters, for display (``atb strategies show``) and for the session record."""
    described: dict[str, object] = {"name": sizer.name}
    cls: type[Any] = type(sizer)
    if dataclasses.is_dataclass(cls):  # a sizer from elsewhere may be any class
        for key in _param_fields(cls):
            described[key] = getattr(sizer, key)
    if isinstance(sizer, ConfidenceWeighted):
        described["base"] = describe_sizer(sizer.base)
    return described
