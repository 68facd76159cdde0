"""The drawdown circuit breaker's memory and its reset policy (``max_drawdown``, ``max_drawdown_cooldown``).

The breaker is checked each time an entry is proposed. It **trips** at the first proposal that finds the
equity ``max_drawdown`` or more below its reference peak, and from then on denies every entry, whatever the
equity does, until it **resets**:

- ``max_drawdown_cooldown`` = 0: *latched*. It never resets by itself; a person resets it (live trading).
- ``max_drawdown_cooldown`` = N > 0 (days, fractions allowed): it resets at the first bar close N days or
  more after the close it tripped at (the end rounded up to a whole bar, as Freqtrade's ``MaxDrawdown``
  protection rounds its ``stop_duration``); that bar's decisions may enter again. The equity at that close
  becomes the breaker's new peak, which then rises with every higher close: the next trip needs a new
  ``max_drawdown`` loss from there, not from the peak before the trip.

Until its first reset the breaker's peak is the account's (the highest equity at any close). Its whole
memory is :class:`BreakerState`, two plain values a live session can persist and a person can clear.
"""

from __future__ import annotations

import math

from domain.model.values import value_object

DAY_MS = 86_400_000
MAX_DRAWDOWN = "max_drawdown"  # the rule's name in events and denials
TRIP, RESET = "trip", "reset"


@value_object
class BreakerState:
    """What the breaker remembers: ``tripped_ms`` the close time of the bar it tripped at (None: armed);
    ``peak`` the peak it measures from: NaN before its first trip (the account's peak applies), the peak it
    tripped against while tripped, its own peak since the last reset once reset."""

    tripped_ms: int | None = None
    peak: float = math.nan

    @property
    def tripped(self) -> bool:
        return self.tripped_ms is not None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON values (NaN as None), for a live session to persist."""
        return {"tripped_ms": self.tripped_ms, "peak": None if math.isnan(self.peak) else self.peak}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BreakerState:
        tripped, peak = data.get("tripped_ms"), data.get("peak")
        return cls(
            None if tripped is None else int(tripped),  # type: ignore[call-overload]
            math.nan if peak is None else float(peak),  # type: ignore[arg-type]
        )


@value_object
class RiskEvent:
    """A change of a stateful risk rule: the breaker tripping or resetting. ``time_ms`` is the close of the
    bar it happened at; ``equity`` the equity then; ``drawdown`` the breaker's drawdown then (from the peak
    it was measuring from: at a reset, the one before the reset); ``peak`` that peak."""

    time_ms: int
    rule: str
    kind: str  # TRIP or RESET
    equity: float
    drawdown: float
    peak: float


def breaker_peak(state: BreakerState, account_peak: float) -> float:
    """The peak the breaker measures from: its own after a reset, else the account's."""
    return account_peak if math.isnan(state.peak) else state.peak


def drawdown_from(equity: float, peak: float) -> float:
    """``1 - equity / peak`` as a positive fraction (0 at or above the peak, or without a peak)."""
    return 0.0 if not peak > 0 else max(0.0, 1.0 - equity / peak)


def trips(limit: float, equity: float, peak: float) -> bool:
    """Whether an armed breaker with ``limit`` (0: off) trips at ``equity`` against ``peak``."""
    return limit > 0 and drawdown_from(equity, peak) >= limit


def reset_due_ms(state: BreakerState, cooldown_days: float) -> int | None:
    """The earliest bar close time at which a tripped breaker resets (None: latched, or not tripped)."""
    if state.tripped_ms is None or not cooldown_days > 0:
        return None
    return state.tripped_ms + math.ceil(cooldown_days * DAY_MS)
