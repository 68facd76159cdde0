"""What a strategy is: typed, validated parameters and a causal function from candles to signals."""

from __future__ import annotations

from dataclasses import dataclass

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
