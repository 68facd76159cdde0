"""Closed round trips: what a trade ledger and the trade metrics are made of."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from domain.model.candles import FloatArray
from domain.model.symbols import Symbol


class Direction(Enum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.LONG else -1


@dataclass(frozen=True, slots=True)
class Trade:
    """A round trip (or a partial exit of one), in the quote currency.

    Times are UTC ms of the fills; ``pnl`` is net of both sides' fees; ``return_pct`` is the net PnL over
    the entry notional. A partial exit is a trade of its own, for the quantity it closed, with its share
    of the entry fee.
    """

    symbol: Symbol
    direction: Direction
    entry_time: int
    exit_time: int
    entry_price: float
    exit_price: float
    quantity: float
    fees: float
    pnl: float
    exit_reason: str = ""
    slippage: float = 0.0  # cost of slippage on both sides, quote currency
    mfe: float = math.nan  # max favourable excursion while open, fraction of the entry price (>= 0)
    mae: float = math.nan  # max adverse excursion while open, fraction of the entry price (<= 0)
    stop_initial: float = math.nan  # the protective stop attached at entry (price), NaN when none
    stop_last: float = math.nan  # the stop in force when the trade closed (moved by trailing/break-even rules)

    @property
    def gross_pnl(self) -> float:
        return self.direction.sign * (self.exit_price - self.entry_price) * self.quantity

    @property
    def return_pct(self) -> float:
        notional = self.entry_price * self.quantity
        return self.pnl / notional if notional else 0.0

    @property
    def duration_ms(self) -> int:
        return self.exit_time - self.entry_time

    @property
    def is_win(self) -> bool:
        return self.pnl > 0


def excursions(direction: Direction, entry_price: float, high: float, low: float) -> tuple[float, float]:
    """Maximum favourable and adverse excursion, as fractions of the entry price, given the highest high
    and lowest low seen while the trade was open: ``(mfe >= 0, mae <= 0)``."""
    if not entry_price > 0:
        return math.nan, math.nan
    up = high / entry_price - 1.0
    down = low / entry_price - 1.0
    if direction is Direction.LONG:
        return max(up, 0.0), min(down, 0.0)
    return max(-down, 0.0), min(-up, 0.0)


def long_excursions(entry_price: FloatArray, high: FloatArray, low: FloatArray) -> tuple[FloatArray, FloatArray]:
    """:func:`excursions` of many long trades at once: the same float operations, element by element."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mfe = np.maximum(high / entry_price - 1.0, 0.0)
        mae = np.minimum(low / entry_price - 1.0, 0.0)
    unpriced = ~(entry_price > 0)
    if unpriced.any():
        mfe[unpriced] = math.nan
        mae[unpriced] = math.nan
    return mfe, mae
