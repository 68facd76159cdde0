"""Positions, long and short, with exact bookkeeping of cost basis, realised PnL and fees."""

from __future__ import annotations

from decimal import Context, Decimal

from domain.model.errors import InvalidOrder
from domain.model.orders import Fill, Side
from domain.model.symbols import Symbol
from domain.model.values import value_object

ZERO = Decimal(0)
# Cost removed on a partial reduction is cut to this grid, and the arithmetic runs at a precision where
# every sum is exact, so the PnL identity holds to the last digit (not just to 28 significant digits).
_COST_GRID = Decimal("1e-18")
_CTX = Context(prec=60)
# Bound methods of that context (looked up once: ``apply`` runs twice per fill, broker and engine); a
# venue that settles many whole entries and exits at once uses them to get exactly what ``apply`` gets.
_add, _sub, _mul = _CTX.add, _CTX.subtract, _CTX.multiply
exact_add, exact_sub, exact_mul = _add, _sub, _mul
_BUY = Side.BUY


@value_object
class Position:
    """A net position in one symbol (quote-currency accounting).

    ``quantity`` is signed (> 0 long, < 0 short); ``cost`` is the signed cost basis of the open quantity
    (quantity x average entry). Removing cost on a reduction keeps ``cost_removed + cost_left == cost``
    exactly, so for any sequence of fills: realised + unrealised - fees == change of equity, to the last digit.
    """

    symbol: Symbol
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def is_long(self) -> bool:
        return self.quantity > 0

    @property
    def is_short(self) -> bool:
        return self.quantity < 0

    @property
    def average_entry(self) -> Decimal:
        """Average entry price of the open quantity (0 when flat)."""
        return self.cost / self.quantity if self.quantity else ZERO

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        """Profit of the open quantity if it were closed at ``price`` (before fees)."""
        return self.quantity * price - self.cost

    def market_value(self, price: Decimal) -> Decimal:
        return self.quantity * price

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill``. A fill larger than the open quantity closes it and opens the rest
        on the other side at the fill price."""
        symbol = self.symbol
        if fill.symbol is not symbol and fill.symbol != symbol:
            raise InvalidOrder(f"fill for {fill.symbol} applied to a {symbol} position")
        delta = fill.quantity if fill.side is _BUY else -fill.quantity
        qty, cost, realized = self.quantity, self.cost, self.realized_pnl
        price = fill.price
        # Explicit context methods (not ``with localcontext()``): the same exact arithmetic, cheaper.
        if qty == 0 or (qty > 0) == (delta > 0):
            cost = _add(cost, _mul(delta, price))
            qty = _add(qty, delta)
        else:
            closing = min(abs(delta), abs(qty))
            if closing == abs(qty):
                removed = cost
            else:
                removed = _CTX.divide(_mul(cost, closing), abs(qty)).quantize(_COST_GRID, context=_CTX)
            direction = 1 if qty > 0 else -1
            realized = _add(realized, _sub(_mul(direction * closing, price), removed))
            cost = _sub(cost, removed)
            qty = _add(qty, delta)
            if qty != 0 and (qty > 0) != (direction > 0):
                # Flipped: what is left opens a position on the other side at the fill price.
                cost = _mul(qty, price)
        return Position(symbol, qty, cost, realized, _add(self.fees, fill.fee))
