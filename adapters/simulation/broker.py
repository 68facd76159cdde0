"""A broker that fills orders against historical bars, with fees, slippage, margin and exchange rules.

Fill rules (docs/backtesting.md has the full list):
- market orders fill at the open of the first tradable bar processed after they were submitted, moved
  against us by the slippage; a buy sized in the quote currency buys as much as the amount pays for,
  fee included;
- stop orders trigger when a bar trades through the stop and fill at the stop, or at the open when the
  bar gaps through it, then slippage applies; limit orders fill at the limit (or a better open) as makers;
- a stop-loss and take-profit ladder attached to an entry are placed when it fills and can trigger in
  that same bar; when a stop and a target both lie inside one bar, ``intrabar`` decides which came
  first (``stop_first``, the conservative default, or ``target_first``);
- reduce-only orders never open or grow a position: they shrink to what is held and are canceled when
  nothing is held (so an exit cancels the orders that protected the position);
- a bar with zero volume fills nothing unless ``fill_on_zero_volume`` (nobody traded there);
- with leverage above 1 or a short position, a liquidation stop rests at the isolated-margin
  liquidation price ``entry x (1 -/+ 1/leverage +/- maintenance_margin)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

import numpy as np

from adapters.simulation.clock import SimulatedClock
from application.ports.errors import InsufficientBalance, OrderRejected
from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import DomainError
from domain.model.market import MarketFrame
from domain.model.orders import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from domain.model.portfolio import Portfolio
from domain.model.positions import Position
from domain.model.symbols import Instrument, Symbol

_BPS = Decimal("0.0001")
_ONE = Decimal(1)
_ZERO = Decimal(0)
_NEVER = 1 << 62
# Module-level aliases: reading Enum members through their class is slow on the per-fill path.
_BUY, _SELL = Side.BUY, Side.SELL
_MARKET, _STOP = OrderType.MARKET, OrderType.STOP
_REJECTED = OrderStatus.REJECTED
_VOLATILITY_WINDOW = 20


def _dec(x: float) -> Decimal:
    """A bar price as the decimal it was written as (shortest repr), not its binary expansion."""
    return Decimal(repr(float(x)))


def first_index_at_or_after(
    values: np.ndarray, start: int, threshold: float, below: bool, stop: int | None = None
) -> int:
    """First ``j`` in ``[start, stop)`` with ``values[j] <= threshold`` (``below``) or ``>= threshold``;
    ``stop`` (default ``len``) if none.

    NaN never matches. Searches in growing chunks: a trigger close to ``start`` costs little and a far
    one stays linear.
    """
    n = values.shape[0] if stop is None else min(stop, values.shape[0])
    j = start
    # A few bars: scalar reads are cheaper than building arrays (the common case, one bar per fill).
    item = values.item
    for k in range(j, min(j + 4, n)):
        v = item(k)
        if (v <= threshold) if below else (v >= threshold):
            return k
    j = min(j + 4, n)
    step = 32
    while j < n:
        seg = values[j : min(j + step, n)]
        hits = np.flatnonzero(seg <= threshold) if below else np.flatnonzero(seg >= threshold)
        if hits.size:
            return j + int(hits[0])
        j += step
        step *= 4
    return n


def volatility_slippage(close: FloatArray, k: float, window: int = _VOLATILITY_WINDOW) -> FloatArray:
    """Per-bar slippage fraction ``k x`` the standard deviation of the previous ``window`` log returns
    (causal: bar ``i`` uses closes up to ``i - 1``; 0 until enough history)."""
    n = close.shape[0]
    out = np.zeros(n)
    if k <= 0 or n <= window + 1:
        return out
    r = np.diff(np.log(close))
    r = np.where(np.isfinite(r), r, 0.0)
    c1 = np.concatenate(([0.0], np.cumsum(r)))
    c2 = np.concatenate(([0.0], np.cumsum(r * r)))
    sums = c1[window:] - c1[:-window]
    sq = c2[window:] - c2[:-window]
    var = np.maximum(sq / window - (sums / window) ** 2, 0.0) * window / (window - 1)
    # var[m] covers returns m..m+window-1, i.e. closes up to m+window: it applies from bar m+window+1.
    out[window + 1 :] = k * np.sqrt(var[: n - window - 1])
    return out


class SimulatedBroker:
    """Implements the ``Broker`` port over the bars of one or several symbols (one cash balance)."""

    def __init__(
        self,
        market: CandleSeries | MarketFrame,
        instruments: Instrument | Sequence[Instrument],
        cash: Decimal,
        clock: SimulatedClock,
        taker_fee_bps: Decimal = Decimal(10),
        maker_fee_bps: Decimal | None = None,
        slippage_bps: Decimal = Decimal(0),
        allow_short: bool = False,
        *,
        volatility_slippage_k: float = 0.0,
        leverage: Decimal = _ONE,
        maintenance_margin: Decimal = Decimal("0.005"),
        intrabar: str = "stop_first",
        fill_on_zero_volume: bool = False,
    ) -> None:
        frame = market if isinstance(market, MarketFrame) else MarketFrame.align([market])
        listed = [instruments] if isinstance(instruments, Instrument) else list(instruments)
        by_symbol = {i.symbol: i for i in listed}
        missing = [str(s) for s in frame.symbols if s not in by_symbol]
        if missing:
            raise DomainError(f"no instrument rules for {', '.join(missing)}")
        quotes = {s.quote for s in frame.symbols}
        if len(quotes) != 1:
            raise DomainError(f"one cash balance needs one quote currency, got {', '.join(sorted(quotes))}")
        if intrabar not in ("stop_first", "target_first"):
            raise DomainError(f"intrabar must be stop_first or target_first, got {intrabar!r}")
        if leverage < 1:
            raise DomainError("leverage must be at least 1")
        self._frame = frame
        self._instruments = by_symbol
        self._col = {s: j for j, s in enumerate(frame.symbols)}
        self._clock = clock
        self._taker = taker_fee_bps * _BPS
        self._maker = (maker_fee_bps if maker_fee_bps is not None else taker_fee_bps) * _BPS
        self._allow_short = allow_short
        self._leverage = leverage
        self._mm = maintenance_margin
        self._stop_rank = 0 if intrabar == "stop_first" else 1
        self._quote = next(iter(quotes))
        # The account, kept mutable here (one Position object per fill, no copies): the venue's truth.
        self._cash = cash
        self._positions: dict[Symbol, Position] = {}
        tradable = frame.present if fill_on_zero_volume else frame.present & (frame.volume > 0)
        self._tradable = tradable
        # Per symbol: contiguous columns, with untradable bars as NaN so trigger searches skip them.
        self._open_px = [frame.open[:, j] for j in range(frame.width)]
        self._low = [np.where(tradable[:, j], frame.low[:, j], np.nan) for j in range(frame.width)]
        self._high = [np.where(tradable[:, j], frame.high[:, j], np.nan) for j in range(frame.width)]
        fixed = float(slippage_bps * _BPS)
        self._slip = [
            fixed
            + volatility_slippage(np.where(np.isnan(frame.mark[:, j]), 1.0, frame.mark[:, j]), volatility_slippage_k)
            for j in range(frame.width)
        ]
        self._orders: dict[str, Order] = {}
        self._open: list[str] = []  # open order ids, in submission order
        self._market: list[str] = []  # the open market orders among them
        self._resting: list[str] = []  # the open stop and limit orders among them
        self._min_trigger = _NEVER  # earliest bar where a resting order might fill
        # Resting order id -> the first bar where it fills (when in _known), else the bar up to which the
        # prices were searched without a hit: triggers are searched lazily, only as far as asked.
        self._trigger_at: dict[str, int] = {}
        self._known: set[str] = set()
        self._rejections: list[Order] = []
        self._liquidation: dict[Symbol, str] = {}
        self._seq = 0
        self._next_bar = 0  # orders submitted now can fill from this bar on
        self._bar_ms = frame.timeframe.milliseconds
        self._close_ms = (frame.open_time + self._bar_ms).tolist()

    # -- the Broker port ------------------------------------------------------------------------------
    def instrument(self, symbol: Symbol) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise OrderRejected(f"{symbol} is not traded in this simulation") from None

    def cash(self) -> Decimal:
        return self._cash

    def portfolio(self) -> Portfolio:
        """The account as the venue sees it (for reconciliation and tests)."""
        return Portfolio(self._quote, self._cash, dict(self._positions))

    def _held(self, symbol: Symbol) -> Decimal:
        position = self._positions.get(symbol)
        return position.quantity if position is not None else _ZERO

    def submit(self, request: OrderRequest) -> Order:
        known = self._orders.get(request.client_order_id)
        if known is not None:
            return known
        self.instrument(request.symbol)
        held = self._held(request.symbol)
        opens_short = request.side is _SELL and not request.reduce_only and held <= 0
        if opens_short and not self._allow_short:
            raise OrderRejected("short selling is not allowed on this account")
        if request.type is _MARKET:
            order = Order(request)
            self._orders[request.client_order_id] = order
            self._open.append(request.client_order_id)
            self._market.append(request.client_order_id)
            return order
        return self._rest(request, self._next_bar)

    def cancel(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is None or not order.status.is_open:
            return order
        return self._close(order.canceled("canceled by request"))

    def open_orders(self, symbol: Symbol | None = None) -> list[Order]:
        orders = (self._orders[i] for i in self._open)
        return [o for o in orders if symbol is None or o.request.symbol == symbol]

    def take_rejections(self) -> list[Order]:
        taken, self._rejections = self._rejections, []
        return taken

    def process_bar(self, index: int) -> list[Fill]:
        self._clock.set(self._close_ms[index])
        self._next_bar = index + 1
        if not self._market and self._min_trigger > index:
            return []
        fills: list[Fill] = []
        for oid in list(self._market):
            order = self._orders[oid]
            if self._tradable[index, self._col[order.request.symbol]]:
                self._fill_market(order, index, fills)
        # Resting orders (stops, limits, and those attached by fills above) in intrabar order; orders
        # attached while this runs are picked up too.
        done: set[str] = set()
        while self._min_trigger <= index:
            for oid in self._resting:
                if oid not in self._known and self._trigger_at[oid] <= index:
                    self._advance(oid, index + 1)
            self._refresh_min()
            due = [o for o in self._resting if o not in done and o in self._known and self._trigger_at[o] <= index]
            if not due:
                break
            due.sort(key=self._intrabar_rank)
            oid = due[0]
            done.add(oid)
            self._fill_resting(self._orders[oid], index, fills)
        return fills

    def quiet_until(self, index: int, horizon: int) -> int:
        if self._market:  # a market order fills at the next tradable bar
            return index - 1
        if self._min_trigger < horizon:
            for oid in self._resting:
                if oid not in self._known and self._trigger_at[oid] < horizon:
                    self._advance(oid, horizon)
            self._refresh_min()
        return min(len(self._frame), horizon, max(self._min_trigger, index)) - 1

    def _advance(self, oid: str, upto: int) -> None:
        """Search an unresolved resting order's trigger from where the last search stopped up to ``upto``."""
        frontier = self._trigger_at[oid]
        if frontier >= upto:
            return
        found = self._find_trigger(self._orders[oid].request, frontier, upto)
        self._trigger_at[oid] = found
        if found < upto:
            self._known.add(oid)

    def _refresh_min(self) -> None:
        self._min_trigger = min((self._trigger_at[o] for o in self._resting), default=_NEVER)

    # -- matching -------------------------------------------------------------------------------------
    def _intrabar_rank(self, oid: str) -> tuple[int, int]:
        request = self._orders[oid].request
        is_stop = request.type is _STOP
        return (0 if is_stop == (self._stop_rank == 0) else 1, self._resting.index(oid))

    def _find_trigger(self, request: OrderRequest, start: int, stop: int) -> int:
        """First bar in ``[start, stop)`` where a resting order's price is traded through; ``stop`` if none."""
        j = self._col[request.symbol]
        if request.type is _STOP:
            level = float(request.stop_price or 0)
            if request.side is _SELL:
                return first_index_at_or_after(self._low[j], start, level, True, stop)
            return first_index_at_or_after(self._high[j], start, level, False, stop)
        level = float(request.price or 0)
        if request.side is _BUY:
            return first_index_at_or_after(self._low[j], start, level, True, stop)
        return first_index_at_or_after(self._high[j], start, level, False, stop)

    def _slipped(self, reference: Decimal, side: Side, j: int, index: int) -> Decimal:
        slip = self._slip[j][index]
        if slip == 0:
            return reference
        factor = Decimal(repr(float(slip)))
        return reference * (_ONE + factor) if side is _BUY else reference * (_ONE - factor)

    def _fill_market(self, order: Order, index: int, fills: list[Fill]) -> None:
        request = order.request
        j = self._col[request.symbol]
        reference = _dec(self._open_px[j][index])
        price = self._slipped(reference, request.side, j, index)
        quantity = self._quantity_for(order, price, self._taker, index)
        if quantity is not None:
            self._execute(order, quantity, price, reference, self._taker, "taker", index, fills)

    def _fill_resting(self, order: Order, index: int, fills: list[Fill]) -> None:
        request = order.request
        j = self._col[request.symbol]
        bar_open = _dec(self._open_px[j][index])
        if request.type is _STOP:
            stop = request.stop_price or bar_open
            # A gap through the stop fills at the open, which is worse than the stop.
            reference = min(bar_open, stop) if request.side is _SELL else max(bar_open, stop)
            price = self._slipped(reference, request.side, j, index)
            rate, liquidity = self._taker, "taker"
        else:
            limit = request.price or bar_open
            reference = min(bar_open, limit) if request.side is _BUY else max(bar_open, limit)
            price, rate, liquidity = reference, self._maker, "maker"
        quantity = self._quantity_for(order, price, rate, index)
        if quantity is not None:
            self._execute(order, quantity, price, reference, rate, liquidity, index, fills)

    def _quantity_for(self, order: Order, price: Decimal, fee_rate: Decimal, index: int) -> Decimal | None:
        """The quantity this fill can have, or ``None`` after closing the order when it cannot fill."""
        request = order.request
        instrument = self._instruments[request.symbol]
        held = self._held(request.symbol)
        if request.quantity is None:
            quote = request.quote_quantity or Decimal(0)
            quantity = instrument.round_quantity(quote / (price * (_ONE + fee_rate)))
        else:
            quantity = order.remaining or Decimal(0)
        if request.reduce_only:
            reducible = held if request.side is _SELL else -held
            if reducible <= 0:
                self._close(order.canceled("reduce-only order with nothing to reduce"))
                return None
            return min(quantity, reducible)
        if quantity <= 0:
            self._close(order.rejected("quantity rounds down to zero at the exchange's step size"))
            return None
        if price * quantity < instrument.min_notional:
            self._close(
                order.rejected(
                    f"order notional {price * quantity:.2f} is below the exchange minimum of {instrument.min_notional}"
                )
            )
            return None
        try:
            self._check_margin(request, quantity, price, fee_rate, held, index)
        except InsufficientBalance as e:
            self._close(order.rejected(str(e)))
            return None
        return quantity

    def _check_margin(
        self, request: OrderRequest, quantity: Decimal, price: Decimal, fee_rate: Decimal, held: Decimal, index: int
    ) -> None:
        """Spot: a buy must be paid in cash. Margin: the new exposure needs free margin for 1/leverage of it."""
        fee = price * quantity * fee_rate
        closing = min(quantity, abs(held)) if (held > 0) != (request.side is _BUY) and held != 0 else Decimal(0)
        opening = quantity - closing
        if opening <= 0:
            return
        if self._leverage == 1 and request.side is _BUY:
            cost = price * quantity + fee
            if cost > self._cash:
                raise InsufficientBalance(f"insufficient balance: needs {cost:.2f}, has {self._cash:.2f}")
            return
        marks = self._marks(index)
        equity = self._cash + sum((p.quantity * marks[s] for s, p in self._positions.items() if p.quantity), _ZERO)
        used = sum((abs(p.quantity) * marks[s] for s, p in self._positions.items() if p.quantity), _ZERO)
        free = equity - used / self._leverage
        needed = price * opening / self._leverage + fee
        if needed > free:
            raise InsufficientBalance(f"insufficient margin: needs {needed:.2f}, has {free:.2f} free")

    def _marks(self, index: int) -> dict[Symbol, Decimal]:
        marks = {}
        for s, p in self._positions.items():
            if p.quantity:
                m = self._frame.mark[index, self._col[s]]
                marks[s] = _dec(m) if not math.isnan(m) else p.average_entry
        return marks

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
            int(self._frame.open_time[index]),
            liquidity,
            abs(price - reference) * quantity,
            request.tag,
        )
        symbol = request.symbol
        self._cash = self._cash - fill.signed_quantity * price - fill.fee
        position = (self._positions.get(symbol) or Position(symbol)).apply(fill)
        self._positions[symbol] = position
        fills.append(fill)
        updated = order.with_fill(fill)
        if request.quantity is None or not updated.status.is_open:
            self._close(updated)
        else:
            self._orders[request.client_order_id] = updated
        if position.quantity == 0:
            # Orders that protected the position go with it (as on venues that cancel reduce-only
            # orders when a position closes): an old stop must never sell the next position.
            for other in [o for o in self._open if self._orders[o].request.symbol == request.symbol]:
                if self._orders[other].request.reduce_only:
                    self._close(self._orders[other].canceled("position closed"))
        if not request.reduce_only:
            self._attach_brackets(request, quantity, index)
        self._update_liquidation(request.symbol, index)

    def _attach_brackets(self, parent: OrderRequest, quantity: Decimal, index: int) -> None:
        """Place the entry's stop-loss and take-profit ladder; they can trigger from this bar on."""
        exit_side = parent.side.opposite
        if parent.stop_loss is not None:
            self._rest(
                OrderRequest(
                    f"{parent.client_order_id}-sl", parent.symbol, exit_side, OrderType.STOP, quantity,
                    parent.created_at, stop_price=parent.stop_loss, reduce_only=True, tag="stop_loss",
                ),
                index,
            )  # fmt: skip
        if parent.take_profits:
            instrument = self._instruments[parent.symbol]
            left = quantity
            for n, (price, fraction) in enumerate(parent.take_profits, start=1):
                last = n == len(parent.take_profits) and sum(f for _, f in parent.take_profits) >= 1
                part = left if last else instrument.round_quantity(quantity * fraction)
                part = min(part, left)
                if part <= 0:
                    continue
                left -= part
                self._rest(
                    OrderRequest(
                        f"{parent.client_order_id}-tp{n}", parent.symbol, exit_side, OrderType.LIMIT, part,
                        parent.created_at, price=price, reduce_only=True, tag="take_profit",
                    ),
                    index,
                )  # fmt: skip

    def _update_liquidation(self, symbol: Symbol, index: int) -> None:
        position = self._positions.get(symbol) or Position(symbol)
        old = self._liquidation.pop(symbol, None)
        if old is not None:
            self.cancel(old)
        if position.is_flat or (self._leverage == 1 and position.is_long):
            return
        entry = position.average_entry
        margin = _ONE / self._leverage
        if position.is_long:
            level = entry * (_ONE - margin + self._mm)
            side = Side.SELL
        else:
            level = entry * (_ONE + margin - self._mm)
            side = Side.BUY
        tick = self._instruments[symbol].tick_size
        level = (level / tick).to_integral_value(rounding=ROUND_DOWN) * tick
        if level <= 0:
            return
        self._seq += 1
        request = OrderRequest(
            f"liquidation-{symbol}-{self._seq}", symbol, side, OrderType.STOP, abs(position.quantity),
            int(self._frame.open_time[index]), stop_price=level, reduce_only=True, tag="liquidation",
        )  # fmt: skip
        self._liquidation[symbol] = request.client_order_id
        self._rest(request, index)

    def _rest(self, request: OrderRequest, index: int) -> Order:
        oid = request.client_order_id
        order = Order(request)
        self._orders[oid] = order
        self._open.append(oid)
        self._resting.append(oid)
        # Only the bar the order can first fill in is searched now; the rest when someone asks.
        self._trigger_at[oid] = index
        self._advance(oid, index + 1)
        self._min_trigger = min(self._min_trigger, self._trigger_at[oid])
        return order

    def _close(self, order: Order) -> Order:
        oid = order.client_order_id
        if order.status is _REJECTED:
            self._rejections.append(order)
        self._orders[oid] = order
        if oid in self._open:
            self._open.remove(oid)
            if order.request.type is _MARKET:
                self._market.remove(oid)
            else:
                self._resting.remove(oid)
                trigger = self._trigger_at.pop(oid)
                self._known.discard(oid)
                if trigger == self._min_trigger:
                    self._refresh_min()
        return order
