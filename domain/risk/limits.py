"""The risk limits: one set of documented defaults, and how settings, strategies and the CLI override it.

Precedence, lowest first: the defaults of :class:`RiskLimits` < global settings < a strategy's overrides <
the command line. Each layer is a mapping of field names to values (numbers, or text as read from a
``.env`` file or ``--risk name=value``); :func:`merge` lays one layer on a base, :func:`merge_layers` lays
them all on the defaults in that order. A key replaces the base's value whole (``drawdown_steps`` and
``regime_caps`` too: a strategy that sets ``regime_caps`` gets exactly its own). Unknown keys are refused
with the list of valid ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.model.errors import InvalidParameter
from domain.regime.types import Regime, Trend, Volatility

_TRENDS = frozenset(t.value for t in Trend) | {"*"}
_VOLS = frozenset(v.value for v in Volatility) | {"*"}


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every risk limit, with its default. All fractions are of current equity (0.02 = 2 %).

    The defaults are for long-term trend following on a spot crypto account, where a few large trends pay
    for many small losses, so the book must survive long losing streaks and crashes:

    - ``max_risk_per_trade`` = 0.02: at most 2 % of equity lost if an entry's stop is hit (size is cut to
      ``max_risk_per_trade / (stop_distance / price)``). The classic 1-2 %: twenty straight stop-outs still
      leave two thirds of the equity. Entries without a stop distance are not limited by it. 0: off.
    - ``max_position`` = 0.5: at most half the equity in one symbol (counting what is already held), and at
      most that in one group of correlated symbols (below). Crypto majors crash together; one bet, or one
      cluster of look-alike bets, should not carry the whole book. ``inf``: no cap.
    - ``max_gross_exposure`` = 1.0: total |notional| / equity, no leverage on a spot account. ``inf``: no cap.
    - ``daily_loss_limit`` = 0.05: once equity is 5 % below the start of the UTC day, no new entries until
      the next UTC day (open positions keep their stops). A 5 % day for a trend follower means something
      broke (a crash, a bug, a bad fill): stop adding. 0: off.
    - ``max_drawdown`` = 0.25: circuit breaker: once an entry is proposed with equity 25 % or more below
      the breaker's peak, it trips and denies every entry until it resets. Trend followers live with 20 %
      drawdowns; 25 % is beyond the usual and calls for a look. 0: off.
    - ``max_drawdown_cooldown`` = 30 (days): how the breaker resets (``domain/risk/breaker.py``). 0:
      *latched*, a person resets it (what live trading wants); N > 0: it resets N days after it tripped
      (rounded up to a whole bar, as Freqtrade's ``MaxDrawdown`` protection with its ``stop_duration``), and
      the equity then becomes its new peak. The backtest default is 30 days, so a run never sits flat for
      years after one bad stretch, and each trip and reset is reported.
    - ``correlation_threshold`` = 0.8 and ``correlation_window`` = 720 bars (30 days of hourly bars): held
      symbols whose returns correlate with the proposal's at |rho| >= 0.8 over the window share one
      ``max_position`` budget with it. BTC/ETH-like pairs (0.8-0.9) count as one bet. Threshold 0: off.
    - ``drawdown_steps`` = 5 / 10 / 15 % drawdown -> size x0.8 / x0.6 / x0.4: sizes shrink as the drawdown
      deepens and come back as it recovers (the deepest step reached applies; below the first, x1).
    - ``regime_caps`` = ``down/high`` 0.3, ``down/*`` 0.5, ``*/high`` 0.7: lower gross caps where trend
      following loses most (falling and whipsawing markets). Patterns are ``trend/volatility`` with ``*`` as
      a wildcard; where several match, the smallest cap applies; the gross cap is
      ``min(max_gross_exposure, regime cap)``.
    - ``min_fraction`` = 0.001: an entry cut below 0.1 % of equity is dropped (dust, not worth the fees).
    """

    max_risk_per_trade: float = 0.02
    max_position: float = 0.5
    max_gross_exposure: float = 1.0
    daily_loss_limit: float = 0.05
    max_drawdown: float = 0.25
    max_drawdown_cooldown: float = 30.0
    correlation_threshold: float = 0.8
    correlation_window: int = 720
    drawdown_steps: tuple[tuple[float, float], ...] = ((0.05, 0.8), (0.10, 0.6), (0.15, 0.4))
    regime_caps: tuple[tuple[str, float], ...] = (("down/high", 0.3), ("down/*", 0.5), ("*/high", 0.7))
    min_fraction: float = 0.001

    def __post_init__(self) -> None:
        _in_range("max_risk_per_trade", self.max_risk_per_trade, 0.0, 1.0)
        _positive("max_position", self.max_position)
        _positive("max_gross_exposure", self.max_gross_exposure)
        _in_range("daily_loss_limit", self.daily_loss_limit, 0.0, 1.0, high_open=True)
        _in_range("max_drawdown", self.max_drawdown, 0.0, 1.0, high_open=True)
        if not 0 <= self.max_drawdown_cooldown < math.inf:
            raise InvalidParameter(
                f"max_drawdown_cooldown must be a number of days >= 0 (0: latched until a person resets it), "
                f"got {self.max_drawdown_cooldown!r}"
            )
        _in_range("correlation_threshold", self.correlation_threshold, 0.0, 1.0)
        if isinstance(self.correlation_window, bool) or not isinstance(self.correlation_window, int):
            raise InvalidParameter(
                f"correlation_window must be a whole number of bars, got {self.correlation_window!r}"
            )
        if self.correlation_window < 2:
            raise InvalidParameter(f"correlation_window must be at least 2 bars, got {self.correlation_window}")
        _in_range("min_fraction", self.min_fraction, 0.0, 1.0, high_open=True)
        previous_dd, previous_mult = 0.0, 1.0
        for drawdown, mult in self.drawdown_steps:
            if not (previous_dd < drawdown < 1):
                raise InvalidParameter(
                    f"drawdown_steps: drawdowns must rise strictly within (0, 1), got {self.drawdown_steps!r}"
                )
            if not (0 < mult <= previous_mult):
                raise InvalidParameter(
                    f"drawdown_steps: multipliers must be in (0, 1] and never rise, got {self.drawdown_steps!r}"
                )
            previous_dd, previous_mult = drawdown, mult
        seen: set[str] = set()
        for pattern, cap in self.regime_caps:
            trend, sep, vol = pattern.partition("/")
            if not sep or trend not in _TRENDS or vol not in _VOLS:
                raise InvalidParameter(
                    f"regime_caps: {pattern!r} is not trend/volatility with trend in "
                    f"{', '.join(sorted(_TRENDS))} and volatility in {', '.join(sorted(_VOLS))}"
                )
            if pattern in seen:
                raise InvalidParameter(f"regime_caps: {pattern!r} appears twice")
            seen.add(pattern)
            if not cap >= 0:
                raise InvalidParameter(f"regime_caps: the cap for {pattern} must be >= 0, got {cap!r}")

    @classmethod
    def unlimited(cls) -> RiskLimits:
        """Every rule off: sizes pass through unchanged (parity tests, or comparing with and without risk)."""
        return cls(
            max_risk_per_trade=0.0,
            max_position=math.inf,
            max_gross_exposure=math.inf,
            daily_loss_limit=0.0,
            max_drawdown=0.0,
            correlation_threshold=0.0,
            drawdown_steps=(),
            regime_caps=(),
            min_fraction=0.0,
        )

    def drawdown_multiplier(self, drawdown: float) -> tuple[float, float]:
        """The size multiplier at ``drawdown`` and the step that set it (``(1.0, 0.0)`` above every step)."""
        mult, step = 1.0, 0.0
        for level, m in self.drawdown_steps:
            if drawdown >= level:
                mult, step = m, level
            else:
                break
        return mult, step

    def regime_cap(self, regime: Regime | None) -> tuple[float, str]:
        """The smallest cap among the patterns matching ``regime`` and that pattern (``inf, ""``: none)."""
        cap, which = math.inf, ""
        if regime is None:
            return cap, which
        trend, vol = regime.trend.value, regime.volatility.value
        for pattern, value in self.regime_caps:
            t, _, v = pattern.partition("/")
            if t in ("*", trend) and v in ("*", vol) and value < cap:
                cap, which = value, pattern
        return cap, which

    def describe(self) -> dict[str, object]:
        """Every limit by name, as plain JSON-friendly values (steps as ``[drawdown, multiplier]`` pairs)."""
        described: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "drawdown_steps":
                value = [[d, m] for d, m in value]
            elif f.name == "regime_caps":
                value = dict(value)
            described[f.name] = value
        return described


LIMIT_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RiskLimits))


def _in_range(name: str, value: float, low: float, high: float, *, high_open: bool = False) -> None:
    below = value < high if high_open else value <= high
    if not (value >= low and below):
        bracket = ")" if high_open else "]"
        raise InvalidParameter(f"{name} must be in [{low:g}, {high:g}{bracket} (0: off), got {value!r}")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InvalidParameter(f"{name} must be > 0 (inf: no cap), got {value!r}")


UNCAPPED = frozenset({"max_position", "max_gross_exposure"})
"""The limits whose ``inf`` is a documented word ("no cap"), not a number used in arithmetic; every other limit,
and every value of any limit, must be finite (docs/adr/0016-numbers.md)."""


def _float(name: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidParameter(f"{name}: {raw!r} is not a number")
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter(f"{name}: {raw!r} is not a number") from None
    if math.isnan(value) or (math.isinf(value) and not (name in UNCAPPED and value > 0 and _says_inf(raw))):
        hint = " (inf, written as such, means no cap)" if name in UNCAPPED else ""
        raise InvalidParameter(f"{name}: {raw!r} is not a finite number{hint}")
    return value


def _says_inf(raw: object) -> bool:
    """``inf`` written as a word (or a float infinity), not a number too large for a float such as ``1e400``."""
    return not isinstance(raw, str) or raw.strip().lower().lstrip("+") in ("inf", "infinity")


def _int(name: str, raw: object) -> int:
    value = _float(name, raw)
    if not value.is_integer():
        raise InvalidParameter(f"{name}: {raw!r} is not a whole number")
    return int(value)


def _pairs(name: str, raw: object) -> list[tuple[str, object]]:
    """``key:value`` pairs from text (``"a:1, b:2"``; ``""`` or ``none``: empty), a mapping or pairs."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() in ("", "none", "off"):
            return []
        pairs: list[tuple[str, object]] = []
        for item in text.split(","):
            key, sep, value = item.strip().rpartition(":")
            if not sep or not key.strip():
                raise InvalidParameter(f"{name}: write key:value pairs separated by commas, got {raw!r}")
            pairs.append((key.strip(), value.strip()))
        return pairs
    if isinstance(raw, Mapping):
        return [(str(k), v) for k, v in raw.items()]
    if isinstance(raw, Iterable):
        out: list[tuple[str, object]] = []
        for item in raw:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise InvalidParameter(f"{name}: expected (key, value) pairs, got {item!r}")
            out.append((str(item[0]), item[1]))
        return out
    raise InvalidParameter(f"{name}: {raw!r} is neither text nor pairs")


def _coerce(name: str, raw: object) -> object:
    if name == "correlation_window":
        return _int(name, raw)
    if name == "drawdown_steps":
        steps = [(_float(name, d), _float(name, m)) for d, m in _pairs(name, raw)]
        return tuple(sorted(steps))
    if name == "regime_caps":
        return tuple((pattern, _float(name, cap)) for pattern, cap in _pairs(name, raw))
    return _float(name, raw)


def merge(base: RiskLimits, overrides: Mapping[str, object] | None) -> RiskLimits:
    """``base`` with ``overrides`` laid on top (validated; unknown keys refused with the valid ones).

    Values may be numbers or text; ``drawdown_steps`` also takes ``"0.05:0.8,0.1:0.6"`` or pairs, and
    ``regime_caps`` ``"down/high:0.3,*/high:0.7"``, a mapping or pairs (``""``/``none``: empty).
    """
    if not overrides:
        return base
    unknown = sorted(set(overrides) - set(LIMIT_NAMES))
    if unknown:
        raise InvalidParameter(f"unknown risk setting {', '.join(unknown)}; valid: {', '.join(LIMIT_NAMES)}")
    values = {name: _coerce(name, raw) for name, raw in overrides.items()}
    return dataclasses.replace(base, **values)  # type: ignore[arg-type]


def merge_layers(*layers: Mapping[str, object] | None) -> RiskLimits:
    """The defaults with each layer merged in order: pass ``(settings, strategy, cli)`` (None: skip)."""
    limits = RiskLimits()
    for layer in layers:
        limits = merge(limits, layer)
    return limits
