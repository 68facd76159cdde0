"""Closed round trips: what a trade ledger and the trade metrics are made of."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

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
    the entry notional.
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
