"""A broker that fills orders against historical bars, with fees, slippage and exchange rules.

Fill rules (documented in docs/backtesting.md):
- market orders fill at the open of the first bar processed after they were submitted, moved against us by
  the slippage; a buy sized in the quote currency buys as much as the amount pays for, fee included;
- stop orders trigger when the bar trades through the stop; they fill at the stop, or at the open when the
  bar gaps through it, then slippage applies; a stop attached to an entry is placed when the entry fills and
  can trigger in that same bar;
- limit orders fill at the limit (or a better open) when the bar trades through it, as makers, no slippage;
- reduce-only orders never open or grow a position: they shrink to what is held and are canceled when
  nothing is held (so an exit cancels the stop that protected the position).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from adapters.simulation.clock import SimulatedClock
from application.ports.errors import OrderRejected
from domain.model.candles import CandleSeries
from domain.model.errors import DomainError
from domain.model.orders import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from domain.model.portfolio import Portfolio
from domain.model.symbols import Instrument, Symbol

_BPS = Decimal("0.0001")


def _dec(x: float) -> Decimal:
    """A bar price as the decimal it was written as (shortest repr), not its binary expansion."""
    return Decimal(repr(float(x)))


def first_index_at_or_after(values: np.ndarray, start: int, threshold: float, below: bool) -> int:
    """First ``j >= start`` with ``values[j] <= threshold`` (``below``) or ``>= threshold``; ``len`` if none.

    Searches in growing chunks, so a trigger close to ``start`` costs little and a far one stays linear.
    """
    n = values.shape[0]
    step = 64
    j = start
    while j < n:
        seg = values[j : j + step]
        hits = np.flatnonzero(seg <= threshold) if below else np.flatnonzero(seg >= threshold)
        if hits.size:
            return j + int(hits[0])
        j += step
        step *= 4
    return n


class SimulatedBroker:
    """Implements the ``Broker`` port over one symbol's candles."""

    def __init__(
        self,
        candles: CandleSeries,
        instrument: Instrument,
        cash: Decimal,
        clock: SimulatedClock,
        taker_fee_bps: Decimal = Decimal(10),
        maker_fee_bps: Decimal | None = None,
        slippage_bps: Decimal = Decimal(0),
        allow_short: bool = False,
    ) -> None:
        if instrument.symbol != candles.symbol:
            raise DomainError(f"instrument {instrument.symbol} does not match candles of {candles.symbol}")
        self._candles = candles
        self._instrument = instrument
        self._clock = clock
        self._taker = taker_fee_bps * _BPS
        self._maker = (maker_fee_bps if maker_fee_bps is not None else taker_fee_bps) * _BPS
        self._slippage = slippage_bps * _BPS
        self._allow_short = allow_short
        self._portfolio = Portfolio(candles.symbol.quote, cash)
        self._orders: dict[str, Order] = {}
        self._open: list[str] = []  # open order ids, in submission order
        self._trigger_at: dict[str, int] = {}  # resting order id -> first bar where it can fill
        self._rejections: list[Order] = []
        self._next_bar = 0  # orders submitted now can fill from this bar on
        self._bar_ms = candles.timeframe.milliseconds

    # -- the Broker port ------------------------------------------------------------------------------
    def instrument(self, symbol: Symbol) -> Instrument:
        if symbol != self._instrument.symbol:
            raise OrderRejected(f"{symbol} is not traded in this simulation")
        return self._instrument

    def cash(self) -> Decimal:
        return self._portfolio.cash

    def submit(self, request: OrderRequest) -> Order:
        known = self._orders.get(request.client_order_id)
        if known is not None:
            return known
        self.instrument(request.symbol)
        position = self._portfolio.position(request.symbol)
        if request.side is Side.SELL and not request.reduce_only and not self._allow_short and position.quantity <= 0:
            raise OrderRejected("short selling is not allowed on this account")
        order = Order(request)
        self._orders[request.client_order_id] = order
        self._open.append(request.client_order_id)
        if request.type is not OrderType.MARKET:
            self._trigger_at[request.client_order_id] = self._find_trigger(request, self._next_bar)
        return order

    def cancel(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is None or not order.status.is_open:
            return order
        return self._close(order.canceled("canceled by request"))

    def open_orders(self, symbol: Symbol | None = None) -> list[Order]:
        orders = (self._orders[i] for i in self._open)
        return [o for o in orders if symbol is None or o.request.symbol == symbol]

    def process_bar(self, index: int) -> list[Fill]:
        self._clock.set(int(self._candles.open_time[index]) + self._bar_ms)
        self._next_bar = index + 1
        if not self._open:
            return []
        fills: list[Fill] = []
        # Market orders go first, at the open; stops and limits (attached stops too) then trade the range.
        for oid in [o for o in self._open if self._orders[o].request.type is OrderType.MARKET]:
            self._fill_market(self._orders[oid], index, fills)
        for oid in [o for o in self._open if self._orders[o].request.type is not OrderType.MARKET]:
            order = self._orders[oid]
            if order.status.is_open and self._trigger_at.get(oid, index) <= index:
                self._fill_resting(order, index, fills)
        return fills

    def quiet_until(self, index: int) -> int:
        last = len(self._candles) - 1
        for oid in self._open:
            trigger = self._trigger_at.get(oid)
            if trigger is None:  # a market order fills at the next bar
                return index - 1
            last = min(last, max(trigger, index) - 1)
        return last

    # -- matching -------------------------------------------------------------------------------------
    def _find_trigger(self, request: OrderRequest, start: int) -> int:
        """First bar from ``start`` on where a resting order's price is traded through."""
        c = self._candles
        if request.type is OrderType.STOP:
            level = float(request.stop_price or 0)
            if request.side is Side.SELL:
                return first_index_at_or_after(c.low, start, level, below=True)
            return first_index_at_or_after(c.high, start, level, below=False)
        level = float(request.price or 0)
        if request.side is Side.BUY:
            return first_index_at_or_after(c.low, start, level, below=True)
        return first_index_at_or_after(c.high, start, level, below=False)

    def _fill_market(self, order: Order, index: int, fills: list[Fill]) -> None:
        request = order.request
        reference = _dec(self._candles.open[index])
        price = reference * (1 + self._slippage) if request.side is Side.BUY else reference * (1 - self._slippage)
        quantity = self._quantity_for(order, price, self._taker)
        if quantity is None:
            return
        self._execute(order, quantity, price, reference, self._taker, "taker", index, fills)

    def _fill_resting(self, order: Order, index: int, fills: list[Fill]) -> None:
        request = order.request
        bar_open = _dec(self._candles.open[index])
        if request.type is OrderType.STOP:
            stop = request.stop_price or bar_open
            # A gap through the stop fills at the open, which is worse than the stop.
            reference = min(bar_open, stop) if request.side is Side.SELL else max(bar_open, stop)
            if request.side is Side.BUY:
                price = reference * (1 + self._slippage)
            else:
                price = reference * (1 - self._slippage)
            rate, liquidity = self._taker, "taker"
        else:
            limit = request.price or bar_open
            reference = min(bar_open, limit) if request.side is Side.BUY else max(bar_open, limit)
            price, rate, liquidity = reference, self._maker, "maker"
        quantity = self._quantity_for(order, price, rate)
        if quantity is None:
            return
        self._execute(order, quantity, price, reference, rate, liquidity, index, fills)

    def _quantity_for(self, order: Order, price: Decimal, fee_rate: Decimal) -> Decimal | None:
        """The quantity this fill can have, or ``None`` after closing the order when it cannot fill."""
        request = order.request
        held = self._portfolio.position(request.symbol).quantity
        if request.quantity is None:
            quote = request.quote_quantity or Decimal(0)
            quantity = self._instrument.round_quantity(quote / (price * (1 + fee_rate)))
        else:
            quantity = order.remaining or Decimal(0)
        if request.reduce_only:
            reducible = held if request.side is Side.SELL else -held
            if reducible <= 0:
                self._close(order.canceled("reduce-only order with nothing to reduce"))
                return None
            quantity = min(quantity, reducible)
        if quantity <= 0:
            self._close(order.rejected("quantity rounds down to zero at the exchange's step size"))
            return None
        if not request.reduce_only and price * quantity < self._instrument.min_notional:
            self._close(order.rejected(f"notional below the exchange minimum of {self._instrument.min_notional}"))
            return None
        if request.side is Side.BUY and held >= 0:
            cost = price * quantity * (1 + fee_rate)
            if cost > self._portfolio.cash:
                self._close(order.rejected(f"insufficient balance: needs {cost:.2f}, has {self._portfolio.cash:.2f}"))
                return None
        return quantity

    def _execute(
        self,
        order: Order,
        quantity: Decimal,
        price: Decimal,
        reference: Decimal,
        fee_rate: Decimal,
        liquidity: str,
        index: int,
        fills: list[Fill],
    ) -> None:
        request = order.request
        fill = Fill(
            request.client_order_id,
            request.symbol,
            request.side,
            quantity,
            price,
            price * quantity * fee_rate,
            int(self._candles.open_time[index]),
            liquidity,
            abs(price - reference) * quantity,
        )
        self._portfolio = self._portfolio.apply(fill)
        fills.append(fill)
        updated = order.with_fill(fill)
        if request.quantity is None or not updated.status.is_open:
            self._close(updated)
        else:
            self._orders[request.client_order_id] = updated
        if request.stop_loss is not None:
            self._attach_stop(request, quantity, index)

    def _attach_stop(self, parent: OrderRequest, quantity: Decimal, index: int) -> None:
        child = OrderRequest(
            f"{parent.client_order_id}-stop_loss",
            parent.symbol,
            parent.side.opposite,
            OrderType.STOP,
            quantity,
            parent.created_at,
            stop_price=parent.stop_loss,
            reduce_only=True,
            tag="stop_loss",
        )
        self._orders[child.client_order_id] = Order(child)
        self._open.append(child.client_order_id)
        self._trigger_at[child.client_order_id] = self._find_trigger(child, index)

    def _close(self, order: Order) -> Order:
        oid = order.client_order_id
        if order.status is OrderStatus.REJECTED:
            self._rejections.append(order)
        self._orders[oid] = order
        if oid in self._open:
            self._open.remove(oid)
        self._trigger_at.pop(oid, None)
        return order

    def take_rejections(self) -> list[Order]:
        taken, self._rejections = self._rejections, []
        return taken
