"""Orders and fills. Exchange-facing quantities and prices are exact ``Decimal`` values."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from enum import Enum

from domain.model.errors import InvalidOrder
from domain.model.symbols import Symbol
from domain.model.values import value_object


class Side(Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is _BUY else -1

    @property
    def opposite(self) -> Side:
        return _SELL if self is _BUY else _BUY


# Module-level aliases: reading a member through its Enum class is slow on the per-fill path.
_BUY = Side.BUY
_SELL = Side.SELL


class OrderType(Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # a stop-market order: triggers at ``stop_price``, fills as a market order


_MARKET = OrderType.MARKET
_LIMIT = OrderType.LIMIT
_STOP = OrderType.STOP


class OrderStatus(Enum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self is _NEW or self is _PARTIAL


_NEW = OrderStatus.NEW
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_FILLED = OrderStatus.FILLED
_ZERO = Decimal(0)


@value_object
class OrderRequest:
    """What a strategy asks the broker for.

    ``client_order_id`` is ours, chosen before sending, and makes submission idempotent: a broker that
    already knows the id returns the existing order instead of placing a second one.
    ``created_at`` is the decision time in UTC milliseconds (the close of the bar that decided it).
    """

    client_order_id: str
    symbol: Symbol
    side: Side
    type: OrderType
    quantity: Decimal | None
    created_at: int
    quote_quantity: Decimal | None = None  # market buys may instead say how much quote to spend, fee included
    price: Decimal | None = None  # limit price
    stop_price: Decimal | None = None  # trigger of a stop order
    reduce_only: bool = False
    stop_loss: Decimal | None = None  # protective stop attached to an entry, placed when it fills
    take_profits: tuple[tuple[Decimal, Decimal], ...] = ()  # (limit price, fraction of the fill), placed likewise
    tag: str = ""  # why the order exists: "entry", "exit", "stop_loss" ...

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise InvalidOrder("an order needs a client order id")
        quantity, quote, kind = self.quantity, self.quote_quantity, self.type
        if (quantity is None) == (quote is None):
            raise InvalidOrder("an order needs exactly one of quantity and quote quantity")
        amount = quantity if quantity is not None else quote
        if amount is None or amount <= 0:
            raise InvalidOrder(f"order quantity must be positive, got {amount}")
        if kind is _MARKET:
            return
        if quote is not None:
            raise InvalidOrder("only market orders can be sized in the quote currency")
        if kind is _LIMIT and (self.price is None or self.price <= 0):
            raise InvalidOrder("a limit order needs a positive price")
        if kind is _STOP and (self.stop_price is None or self.stop_price <= 0):
            raise InvalidOrder("a stop order needs a positive stop price")


@value_object
class Fill:
    """An execution. ``fee`` is in the quote currency; ``timestamp`` is UTC milliseconds.

    ``trade_id`` is the venue's id of the execution, unique at the venue (the simulator makes one from the
    order's client id and the order's fill number); fills are deduplicated by it, so a fill reported twice
    (a replay after a restart) is recorded once. ``""``: none known (a fill made by hand). ``fee_asset`` is
    the asset the venue charged the fee in (the quote asset in the simulator; ``""``: the quote asset); an
    adapter whose venue charges in another asset converts ``fee`` to the quote and names that asset here.
    """

    client_order_id: str
    symbol: Symbol
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    timestamp: int
    liquidity: str = "taker"  # "maker" or "taker"
    slippage: Decimal = Decimal(0)  # cost of slippage in the quote currency (>= 0 when it hurt us)
    tag: str = ""  # the order's tag: why it existed ("entry", "exit", "stop_loss", "take_profit" ...)
    trade_id: str = ""  # the venue's execution id (see the class docstring)
    fee_asset: str = ""  # the asset the venue charged the fee in ("": the quote asset)

    def __post_init__(self) -> None:
        if self.quantity <= 0 or self.price <= 0:
            raise InvalidOrder("a fill needs a positive quantity and price")
        if self.fee < 0:
            raise InvalidOrder("a fill's fee cannot be negative")

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is _BUY else -self.quantity

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price


@value_object
class Order:
    """An order known to a broker: the request, the venue's id and what has been filled so far."""

    request: OrderRequest
    status: OrderStatus = _NEW
    exchange_order_id: str | None = None
    filled_quantity: Decimal = _ZERO
    average_price: Decimal | None = None
    reason: str = ""  # why it was rejected or canceled

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def remaining(self) -> Decimal | None:
        """Base quantity still to fill; ``None`` for an order sized in the quote currency."""
        q = self.request.quantity
        return None if q is None else q - self.filled_quantity

    def with_fill(self, fill: Fill) -> Order:
        """The order after ``fill``; refuses fills of another order or beyond the ordered quantity."""
        if fill.client_order_id != self.client_order_id:
            raise InvalidOrder(f"fill of {fill.client_order_id} applied to order {self.client_order_id}")
        if not self.status.is_open:
            raise InvalidOrder(f"order {self.client_order_id} is {self.status.value}, it cannot fill")
        filled = self.filled_quantity + fill.quantity
        ordered = self.request.quantity
        if ordered is not None and filled > ordered:
            raise InvalidOrder(f"order {self.client_order_id} would fill {filled} of {ordered}")
        prev = self.average_price or _ZERO
        avg = (prev * self.filled_quantity + fill.price * fill.quantity) / filled
        # An order sized in the quote currency is done with its one fill.
        done = ordered is None or filled == ordered
        status = _FILLED if done else _PARTIAL
        return Order(self.request, status, self.exchange_order_id, filled, avg, self.reason)

    def canceled(self, reason: str = "") -> Order:
        return replace(self, status=OrderStatus.CANCELED, reason=reason)

    def rejected(self, reason: str) -> Order:
        return replace(self, status=OrderStatus.REJECTED, reason=reason)
