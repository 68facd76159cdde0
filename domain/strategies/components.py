"""Strategy components: a signal generator says which way and how sure, per bar; a strategy turns that
into entries and exits with a stop, and names the position sizer and risk overrides the engine applies.

Generators are vectorised and causal. A direction is +1 (long), -1 (short) or 0 (flat); an entry is the
bar where the direction becomes +1 (or -1), an exit the bar where it stops being so. So after a stop-out
the strategy waits for the next change of direction, as a trend follower should.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from domain.indicators import atr, ema
from domain.model.candles import BoolArray, CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.strategies.base import ExitRules, Signals

Int8Array = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True, eq=False)
class SignalFrame:
    """A generator's opinion at each bar's close: ``direction`` in {-1, 0, +1} and ``confidence`` in [0, 1].
    Directions are raw (0 where the indicators are not defined yet); :func:`compose` takes no decision
    before ``warmup``, so a trend already under way at the end of the warm-up is not entered mid-way."""

    direction: Int8Array
    confidence: FloatArray
    warmup: int

    def __post_init__(self) -> None:
        if self.direction.shape != self.confidence.shape:
            raise InvalidParameter("direction and confidence must have the same length")


class SignalGenerator(Protocol):
    """A named, causal opinion about direction: ``generate(c)[t] == generate(c[: t + 1])[t]``."""

    name: ClassVar[str]

    @property
    def warmup(self) -> int: ...

    def generate(self, candles: CandleSeries) -> SignalFrame: ...


def events(direction: Int8Array) -> tuple[BoolArray, BoolArray, BoolArray, BoolArray]:
    """Entries and exits from a direction series: (long entry, long exit, short entry, short exit)."""
    prev = np.concatenate(([0], direction[:-1])).astype(np.int8)
    long_entry = (direction == 1) & (prev != 1)
    long_exit = (direction != 1) & (prev == 1)
    short_entry = (direction == -1) & (prev != -1)
    short_exit = (direction != -1) & (prev == -1)
    return long_entry, long_exit, short_entry, short_exit


@dataclass(frozen=True, slots=True)
class StopRule:
    """The protective stop of an entry: ``atr_stop`` ATRs or ``pct_stop`` of the close away (0: none)."""

    atr_period: int = 14
    atr_stop: float = 0.0
    pct_stop: float = 0.0

    def __post_init__(self) -> None:
        if self.atr_period < 1:
            raise InvalidParameter("atr_period must be at least 1")
        for name in ("atr_stop", "pct_stop"):
            value = getattr(self, name)
            if not (value >= 0 and value != float("inf")):
                raise InvalidParameter(f"{name} must be a finite number >= 0")
        if self.pct_stop >= 1:
            raise InvalidParameter("pct_stop must be below 1")


def compose(
    frame: SignalFrame,
    candles: CandleSeries,
    stop: StopRule,
    size: float,
    exits: ExitRules = ExitRules(),  # noqa: B008  (frozen, immutable default)
    warmup: int | None = None,
) -> Signals:
    """Signals from a generator's frame: entries on direction changes, stops, sizes, ATR and confidence."""
    n = len(candles)
    warm = frame.warmup if warmup is None else max(warmup, frame.warmup)
    decisions = events(frame.direction)
    for a in decisions:
        a[:warm] = False
    long_entry, long_exit, short_entry, short_exit = decisions
    atr_values = atr(candles.high, candles.low, candles.close, stop.atr_period)
    distance = np.full(n, np.nan)
    if stop.atr_stop > 0:
        distance = atr_values * stop.atr_stop
    if stop.pct_stop > 0:
        distance = np.fmin(distance, candles.close * stop.pct_stop)
    return Signals(
        long_entry, long_exit, short_entry, short_exit, distance, np.full(n, size), warm,
        exits=exits, atr=atr_values, confidence=frame.confidence,
    )  # fmt: skip


# -- generators ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EmaCrossover:
    """+1 while EMA(fast) > EMA(slow), else 0 (or -1 with ``short``); confidence 1."""

    name: ClassVar[str] = "ema_crossover"
    fast: int = 50
    slow: int = 200
    short: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise InvalidParameter(f"fast ({self.fast}) must be at least 1 and below slow ({self.slow})")

    @property
    def warmup(self) -> int:
        return self.slow

    def generate(self, candles: CandleSeries) -> SignalFrame:
        fast, slow = ema(candles.close, self.fast), ema(candles.close, self.slow)
        with np.errstate(invalid="ignore"):
            up = fast > slow
            down = fast < slow
        direction = np.where(up, 1, np.where(down & self.short, -1, 0)).astype(np.int8)
        return SignalFrame(direction, np.ones(len(candles)), self.warmup)


@dataclass(frozen=True, slots=True)
class Momentum:
    """Rate of change over ``period`` bars: +1 above ``threshold``, -1 below ``-threshold`` (with
    ``short``), else 0. Confidence grows with |momentum| / (2 x threshold), capped at 1."""

    name: ClassVar[str] = "momentum"
    period: int = 72
    threshold: float = 0.02
    short: bool = False

    def __post_init__(self) -> None:
        if self.period < 1:
            raise InvalidParameter("period must be at least 1")
        if not self.threshold > 0:
            raise InvalidParameter("threshold must be positive")

    @property
    def warmup(self) -> int:
        return self.period

    def generate(self, candles: CandleSeries) -> SignalFrame:
        close = candles.close
        n = close.shape[0]
        roc = np.full(n, np.nan)
        roc[self.period :] = close[self.period :] / close[: -self.period] - 1.0
        with np.errstate(invalid="ignore"):
            direction = np.where(roc > self.threshold, 1, np.where((roc < -self.threshold) & self.short, -1, 0))
        confidence = np.clip(np.nan_to_num(np.abs(roc)) / (2 * self.threshold), 0.0, 1.0)
        return SignalFrame(direction.astype(np.int8), confidence, self.warmup)


GENERATORS: dict[str, type[SignalGenerator]] = {g.name: g for g in (EmaCrossover, Momentum)}


def weighted_vote(frames: list[SignalFrame], weights: list[float], threshold: float) -> SignalFrame:
    """Combine frames: score = sum(w x direction x confidence) / sum(|w|); +1 at or above ``threshold``,
    -1 at or below ``-threshold``, else 0; confidence = |score|."""
    if not frames or len(frames) != len(weights):
        raise InvalidParameter("an ensemble needs one weight per member")
    total = sum(abs(w) for w in weights)
    if total <= 0:
        raise InvalidParameter("ensemble weights must not all be zero")
    score = np.zeros(frames[0].direction.shape[0])
    for frame, weight in zip(frames, weights, strict=True):
        score += weight * frame.direction * frame.confidence
    score /= total
    direction = np.where(score >= threshold, 1, np.where(score <= -threshold, -1, 0)).astype(np.int8)
    return SignalFrame(direction, np.abs(score), max(f.warmup for f in frames))
