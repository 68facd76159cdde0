"""Balances and positions of one account, kept in its quote currency."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from domain.model.errors import DomainError
from domain.model.orders import Fill
from domain.model.positions import ZERO, Position
from domain.model.symbols import Symbol


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Cash in the quote currency plus positions by symbol.

    Buying spends ``quantity x price + fee`` of cash, selling (or shorting) receives ``quantity x price - fee``;
    equity is cash plus the market value of every position. Cash goes below zero only on a margin account
    (borrowed quote); whether that is allowed is the broker's rule, not the portfolio's.
    """

    quote: str
    cash: Decimal
    positions: dict[Symbol, Position] = field(default_factory=dict)

    def position(self, symbol: Symbol) -> Position:
        return self.positions.get(symbol) or Position(symbol)

    def apply(self, fill: Fill) -> Portfolio:
        """The portfolio after ``fill`` (cash and the symbol's position)."""
        if fill.symbol.quote != self.quote:
            raise DomainError(f"fill in {fill.symbol.quote} applied to a {self.quote} portfolio")
        cash = self.cash - fill.signed_quantity * fill.price - fill.fee
        positions = dict(self.positions)
        positions[fill.symbol] = self.position(fill.symbol).apply(fill)
        return Portfolio(self.quote, cash, positions)

    def equity(self, marks: dict[Symbol, Decimal]) -> Decimal:
        """Cash plus positions marked at ``marks`` (a price per symbol with an open position)."""
        total = self.cash
        for symbol, pos in self.positions.items():
            if pos.quantity:
                try:
                    total += pos.market_value(marks[symbol])
                except KeyError:
                    raise DomainError(f"no mark price for open position in {symbol}") from None
        return total

    @property
    def realized_pnl(self) -> Decimal:
        return sum((p.realized_pnl for p in self.positions.values()), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((p.fees for p in self.positions.values()), ZERO)
