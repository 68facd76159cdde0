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

As a venue (``application.ports.venue``): a price off the tick grid or a quantity off the step grid is refused
at submit, like an exchange's filters; the minimum notional and the balance are checked when the order fills
(it is then rejected and reported by ``take_rejections``). Every fill has a trade id, ``<client order id>#<n>``
for the order's n-th fill (deterministic: the same run gives the same ids), and its fee in the quote asset.
``balances()`` reports what open orders lock, as spot venues do, but the simulator does not enforce the locks
yet: it accepts orders whose locks exceed the free balance (an entry's stop-loss and take-profit ladder each
sell the whole position, which a spot venue refuses unless they are paired in an OCO; the order manager and
venue profiles of ADR 0023 point 5 will). ``replace`` is atomic: the old order is canceled and the new one
placed in one call, between two bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import ROUND_DOWN, Decimal

import numpy as np

from adapters.simulation import replay as rk
from adapters.simulation import rules
from adapters.simulation.clock import SimulatedClock
from application.order_ids import LIQUIDATION, STOP, derived_id, order_id, take_profit
from application.ports.errors import BrokerError, InsufficientBalance, OrderRejected
from application.ports.simulation import ReplayAccount, ReplayOutcome
from application.ports.venue import Balance, FillCursor
from application.snapshots import (
    Snapshot,
    check_schema,
    dec,
    position_from_json,
    position_to_json,
    request_from_json,
    request_to_json,
    symbol_of,
    undec,
)
from application.tape import Bar
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
_NEW, _PARTIAL, _FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
_CANCELED, _REJECTED = OrderStatus.CANCELED, OrderStatus.REJECTED
_VOLATILITY_WINDOW = 20
VENUE_SNAPSHOT_SCHEMA = 1  # SimulatedBroker.snapshot's layout


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
    n: int = values.shape[0] if stop is None else min(stop, values.shape[0])
    j = start
    if n - j <= 4:
        # A few bars: scalar reads are cheaper than building arrays.
        item = values.item
        for k in range(j, n):
            v = item(k)
            if (v <= threshold) if below else (v >= threshold):
                return k
        return n
    step = 64  # about the distance between two signals: usually one chunk
    while j < n:
        seg = values[j : min(j + step, n)]
        hit = seg <= threshold if below else seg >= threshold
        # argmax of a boolean array is its first True (or 0 when there is none): one C call, no index array.
        k = int(hit.argmax())
        if hit.item(k):
            return j + k
        j += step
        step *= 4
    return n


def _masked(values: FloatArray, tradable: np.ndarray) -> FloatArray:
    """``values`` with NaN where the bar cannot trade, so trigger searches skip it (``values`` itself when
    every bar can)."""
    return values if bool(tradable.all()) else np.where(tradable, values, np.nan)


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


class _Working:
    """The venue's record of one order, updated in place as it fills or closes.

    The port hands out frozen :class:`Order` snapshots; building one on every state change (fill, cancel)
    was a large part of the per-fill cost, so the broker keeps this mutable record and builds an ``Order``
    only when the port returns one. The request's fields that matching reads are copied out once.
    """

    __slots__ = (
        "average", "below", "col", "filled", "fills", "is_buy", "is_market", "is_stop", "known", "level", "oid",
        "prices", "quantity", "reason", "reduce_only", "request", "side", "status", "symbol", "trigger_at",
    )  # fmt: skip

    def __init__(self, request: OrderRequest, col: int, low: FloatArray, high: FloatArray) -> None:
        self.request = request
        self.oid = request.client_order_id
        self.symbol = request.symbol
        self.col = col
        self.side = request.side
        self.is_buy = request.side is _BUY
        self.is_market = request.type is _MARKET
        self.is_stop = request.type is _STOP
        self.quantity = request.quantity
        self.reduce_only = request.reduce_only
        self.filled = _ZERO
        self.fills = 0  # how many fills so far: the n of the next fill's trade id
        self.average: Decimal | None = None
        self.status = _NEW
        self.reason = ""
        # Resting orders: the first bar where the order fills (when ``known``), else the bar up to which
        # the prices were searched without a hit (triggers are searched lazily, only as far as asked).
        self.trigger_at = 0
        self.known = False
        # What the trigger search reads: a sell stop or a buy limit fills when the low reaches the level,
        # a buy stop or a sell limit when the high does.
        self.below = self.is_buy != self.is_stop
        self.prices = low if self.below else high
        self.level = float((request.stop_price if self.is_stop else request.price) or 0)

    def order(self) -> Order:
        return Order(self.request, self.status, None, self.filled, self.average, self.reason)


class SimulatedBroker:
    """Implements ``SimulatedVenue`` (application/ports/simulation.py) over the bars of one or several symbols
    (one cash balance)."""

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
        self._symbols = frame.symbols
        self._n = len(frame)
        self._fill_on_zero_volume = fill_on_zero_volume
        self._fixed_slip = float(slippage_bps * _BPS)
        self._volatility_k = volatility_slippage_k
        self._instruments = by_symbol
        self._col = {s: j for j, s in enumerate(frame.symbols)}
        self._clock = clock
        self._taker = taker_fee_bps * _BPS
        self._maker = (maker_fee_bps if maker_fee_bps is not None else taker_fee_bps) * _BPS
        self._allow_short = allow_short
        self._leverage = leverage
        self._spot = leverage == 1
        self._mm = maintenance_margin
        self._stops_first = intrabar == "stop_first"
        self._quote = next(iter(quotes))
        # The account, kept mutable here (one Position object per fill, no copies): the venue's truth.
        self._cash = cash
        self._positions: dict[Symbol, Position] = {}
        tradable = frame.present if fill_on_zero_volume else frame.present & (frame.volume > 0)
        # Per symbol: contiguous columns, with untradable bars as NaN so trigger searches skip them.
        self._tradable = [np.ascontiguousarray(tradable[:, j]) for j in range(frame.width)]
        self._open_px = [frame.open[:, j] for j in range(frame.width)]
        self._mark = [frame.mark[:, j] for j in range(frame.width)]
        self._capacity = self._n
        self._buffers: dict[str, list[np.ndarray]] = {}  # append()'s columns, with room for more rows
        # A column where every bar is tradable is searched as it is (no copy of a long history).
        self._low = [_masked(frame.low[:, j], self._tradable[j]) for j in range(frame.width)]
        self._high = [_masked(frame.high[:, j], self._tradable[j]) for j in range(frame.width)]
        fixed = float(slippage_bps * _BPS)
        if volatility_slippage_k > 0:
            self._slip = [
                fixed
                + volatility_slippage(
                    np.where(np.isnan(frame.mark[:, j]), 1.0, frame.mark[:, j]), volatility_slippage_k
                )
                for j in range(frame.width)
            ]
        else:  # one fraction for every bar: a read-only broadcast, no per-bar array
            self._slip = [np.broadcast_to(np.float64(fixed), (self._n,)) for _ in range(frame.width)]
        # Slippage fraction (a float per bar) -> the Decimal factors for buys and sells: with a fixed
        # slippage this holds one entry, so the float-to-Decimal conversion happens once per run.
        self._slip_factors: dict[float, tuple[Decimal, Decimal]] = {}
        self._orders: dict[str, _Working] = {}
        self._open: dict[str, _Working] = {}  # open orders, in submission order
        self._market: list[_Working] = []  # the open market orders among them
        self._resting: list[_Working] = []  # the open stop and limit orders among them
        self._min_trigger = _NEVER  # earliest bar where a resting order might fill
        self._rejections: list[_Working] = []
        self._fill_log: list[Fill] = []  # every fill in the order it happened: fills_since reads it
        self._liquidation: dict[Symbol, str] = {}
        # Per symbol: the bar of its last liquidation order and how many were placed in that bar (the
        # revision in the next one's id, application/order_ids.py).
        self._liquidation_bar: dict[Symbol, tuple[int, int]] = {}
        self._next_bar = 0  # orders submitted now can fill from this bar on
        self._bar_ms = frame.timeframe.milliseconds
        # Bar times stay a numpy array read with ``.item``: a Python list of a million ints costs ~40 MB,
        # and every full garbage collection walks it (a cost that grows with the run's length). A bar
        # closes one bar length after it opens.
        self._open_ms = frame.open_time

    # -- growing: a paper or live driver appends each closed candle -----------------------------------
    def append(self, open_time: int, bars: Sequence[Bar | None]) -> int:
        """Add the candles of every symbol that opened at ``open_time`` (None: no bar there); returns their
        bar number. Orders resting or waiting carry on: their trigger searches extend to the new bar."""
        k = len(self._symbols)
        if len(bars) != k:
            raise DomainError(f"a bar row needs {k} bars, got {len(bars)}")
        n = self._n
        times = self._open_ms
        if n and (open_time <= times.item(n - 1) or (open_time - times.item(0)) % self._bar_ms):
            raise DomainError(f"bar {open_time} does not follow bar {times.item(n - 1)} on the timeframe grid")

        if n == self._capacity or not self._buffers:  # room for more rows, doubling (amortised growth)
            self._capacity = capacity = max(2 * n, 64)

            def room(values: np.ndarray, fill: float | bool | int) -> np.ndarray:
                out = np.full(capacity, fill, dtype=values.dtype)
                out[:n] = values[:n]
                return out

            self._buffers = {
                "times": [room(times, 0)],
                "open": [room(a, math.nan) for a in self._open_px],
                "mark": [room(a, math.nan) for a in self._mark],
                "low": [room(a, math.nan) for a in self._low],  # masked: NaN where the bar cannot trade
                "high": [room(a, math.nan) for a in self._high],
                "tradable": [room(a, False) for a in self._tradable],
            }
        buffers = self._buffers
        buffers["times"][0][n] = open_time
        for j in range(k):
            bar = bars[j]
            tradable = bar is not None and (self._fill_on_zero_volume or bar.volume > 0)
            buffers["open"][j][n] = bar.open if bar is not None else math.nan
            buffers["mark"][j][n] = bar.close if bar is not None else (buffers["mark"][j][n - 1] if n else math.nan)
            buffers["low"][j][n] = bar.low if bar is not None and tradable else math.nan
            buffers["high"][j][n] = bar.high if bar is not None and tradable else math.nan
            buffers["tradable"][j][n] = tradable
        m = n + 1
        self._open_ms = buffers["times"][0][:m]
        self._open_px = [a[:m] for a in buffers["open"]]
        self._mark = [a[:m] for a in buffers["mark"]]
        self._low = [a[:m] for a in buffers["low"]]
        self._high = [a[:m] for a in buffers["high"]]
        self._tradable = [a[:m] for a in buffers["tradable"]]
        for j in range(k):
            if self._volatility_k > 0:  # the same whole-array computation as at construction (causal: O(n))
                mark = self._mark[j]
                self._slip[j] = self._fixed_slip + volatility_slippage(
                    np.where(np.isnan(mark), 1.0, mark), self._volatility_k
                )
            else:
                self._slip[j] = np.broadcast_to(np.float64(self._fixed_slip), (m,))
        self._n = n + 1
        for work in self._open.values():  # trigger searches read the new columns
            work.prices = self._low[work.col] if work.below else self._high[work.col]
        return n

    # -- the venue port -------------------------------------------------------------------------------
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
            return known.order()
        self._check_request(request)
        if request.type is _MARKET:
            work = self._track(request)
            self._market.append(work)
            return Order(request)
        return self._rest(request, self._next_bar).order()

    def _check_request(self, request: OrderRequest) -> None:
        """What the venue refuses at submit: an unknown symbol, a short on a spot account, a price off the
        tick grid, a quantity off the step grid (an exchange's PRICE_FILTER and LOT_SIZE)."""
        instrument = self.instrument(request.symbol)
        opens_short = request.side is _SELL and not request.reduce_only and self._held(request.symbol) <= 0
        if opens_short and not self._allow_short:
            raise OrderRejected("short selling is not allowed on this account")
        tick, step = instrument.tick_size, instrument.step_size
        for name, price in (("price", request.price), ("stop price", request.stop_price)):
            if price is not None and price % tick:
                raise OrderRejected(rules.off_grid(name, price, tick))
        if request.quantity is not None and request.quantity % step:
            raise OrderRejected(rules.off_grid("quantity", request.quantity, step))

    def order(self, client_order_id: str) -> Order | None:
        work = self._orders.get(client_order_id)
        return None if work is None else work.order()

    def replace(self, client_order_id: str, new: OrderRequest) -> Order:
        known = self._orders.get(new.client_order_id)
        if known is not None:  # a retry of a replace that went through
            return known.order()
        old = self._orders.get(client_order_id)
        if old is None:
            raise OrderRejected(f"cannot replace {client_order_id}: no such order")
        if not (old.status is _NEW or old.status is _PARTIAL):
            raise OrderRejected(f"cannot replace {client_order_id}: it is {old.status.value}")
        if new.symbol != old.symbol:
            raise OrderRejected(f"cannot replace an order of {old.symbol} with one of {new.symbol}")
        self._check_request(new)  # refused: the old order stands
        self._close(old, _CANCELED, f"replaced by {new.client_order_id}")
        return self.submit(new)

    def balances(self) -> dict[str, Balance]:
        held: dict[str, Decimal] = {s.base: p.quantity for s, p in self._positions.items() if p.quantity}
        locked: dict[str, Decimal] = {}
        quote = self._quote
        for work in self._open.values():
            remaining = None if work.quantity is None else work.quantity - work.filled
            if not work.is_buy:
                base = work.symbol.base
                locked[base] = locked.get(base, _ZERO) + (remaining or _ZERO)
                continue
            if remaining is None:  # a market buy sized in the quote currency
                amount = work.request.quote_quantity or _ZERO
            else:
                price = work.request.price if not work.is_stop else work.request.stop_price
                amount = remaining * (price if price is not None else self._last_close(work.col))
            locked[quote] = locked.get(quote, _ZERO) + amount
        out = {quote: self._balance(quote, self._cash, locked.get(quote, _ZERO))}
        for asset in sorted(held.keys() | locked.keys() - {quote}):
            out[asset] = self._balance(asset, held.get(asset, _ZERO), locked.get(asset, _ZERO))
        return out

    @staticmethod
    def _balance(asset: str, total: Decimal, wanted: Decimal) -> Balance:
        """``total`` of ``asset`` with what open orders want locked, capped at what there is (the simulator
        accepts orders beyond the free balance; see the module docstring)."""
        lock = min(wanted, max(total, _ZERO))
        return Balance(asset, total - lock, lock)

    def _last_close(self, col: int) -> Decimal:
        """The latest close of column ``col`` processed (the first open before any), what a quantity-sized
        market buy is expected to cost: it locks that much until it fills at the next open."""
        bar = self._next_bar - 1
        value = self._mark[col].item(bar) if bar >= 0 else self._open_px[col].item(0)
        return _ZERO if math.isnan(value) else _dec(value)

    def fills_since(self, cursor: FillCursor) -> tuple[list[Fill], FillCursor]:
        # The cursor is the number of fills already reported (text of a decimal integer; "" for none).
        if cursor and not cursor.isdigit():
            raise BrokerError(f"not a fill cursor of this venue: {cursor!r}")
        start = int(cursor or 0)
        log = self._fill_log
        return log[start:], str(len(log))

    def cancel(self, client_order_id: str) -> Order | None:
        work = self._orders.get(client_order_id)
        if work is None:
            return None
        if work.status is _NEW or work.status is _PARTIAL:
            self._close(work, _CANCELED, "canceled by request")
        return work.order()

    def open_orders(self, symbol: Symbol | None = None) -> list[Order]:
        return [w.order() for w in self._open.values() if symbol is None or w.symbol == symbol]

    def take_rejections(self) -> list[Order]:
        if not self._rejections:
            return []
        taken, self._rejections = self._rejections, []
        return [w.order() for w in taken]

    def process_bar(self, index: int) -> list[Fill]:
        self._clock.set(self._open_ms.item(index) + self._bar_ms)
        self._next_bar = index + 1
        if not self._market and self._min_trigger > index:
            return []
        fills: list[Fill] = []
        if self._market:
            for work in list(self._market):
                if self._tradable[work.col].item(index):
                    self._fill_market(work, index, fills)
        if self._min_trigger <= index:
            self._match_resting(index, fills)
        return fills

    def quiet_until(self, index: int, horizon: int) -> int:
        if self._market:  # a market order fills at the next tradable bar
            return index - 1
        if self._min_trigger < horizon:
            # The search includes bar ``horizon``: the engine visits it anyway, and knowing now whether
            # an order fills there spares that visit a search of its own.
            upto = min(horizon + 1, self._n)
            for work in self._resting:
                if not work.known and work.trigger_at < upto:
                    self._advance(work, upto)
            self._refresh_min()
        return min(self._n, horizon, max(self._min_trigger, index)) - 1

    def _advance(self, work: _Working, upto: int) -> None:
        """Search an unresolved resting order's trigger from where the last search stopped up to ``upto``."""
        frontier = work.trigger_at
        if frontier >= upto:
            return
        found = first_index_at_or_after(work.prices, frontier, work.level, work.below, upto)
        work.trigger_at = found
        if found < upto:
            work.known = True

    def _refresh_min(self) -> None:
        least = _NEVER
        for work in self._resting:  # usually one or two orders: a loop beats min() over a generator
            least = min(least, work.trigger_at)
        self._min_trigger = least

    # -- snapshot and restore (a simulated venue's state between bars) ---------------------------------
    def snapshot(self) -> Snapshot:
        """The venue's state between bars, JSON-safe: the account, the open orders in submission order
        (with what has filled of them), the liquidation stops, and the bar the next order can fill from.
        Orders already closed are not kept (a restored venue does not know their ids)."""

        def order(work: _Working) -> Snapshot:
            return {
                "request": request_to_json(work.request),
                "status": work.status.value,
                "filled": str(work.filled),
                "average": dec(work.average),
                "reason": work.reason,
            }

        return {
            "kind": "simulated_venue",
            "schema": VENUE_SNAPSHOT_SCHEMA,
            "cash": str(self._cash),
            "positions": {str(s): position_to_json(p) for s, p in self._positions.items()},
            "open_orders": [order(w) for w in self._open.values()],
            "rejections": [order(w) for w in self._rejections],
            "liquidation": {str(s): oid for s, oid in self._liquidation.items()},
            "next_bar": int(self._open_ms.item(self._next_bar)) if self._next_bar < self._n else None,
        }

    def restore(self, snapshot: Snapshot) -> None:
        """Take the state of ``snapshot`` (from :meth:`snapshot`) into this venue, built over the same bars
        and symbols and not used yet. Resting orders search their triggers again from the next bar."""
        check_schema(snapshot, "simulated_venue", VENUE_SNAPSHOT_SCHEMA)
        if self._orders or self._next_bar:
            raise DomainError("a simulated venue restores a snapshot only before it is used")
        symbols = {str(s): s for s in self._symbols}
        self._cash = Decimal(snapshot["cash"])
        self._positions = {
            symbol_of(symbols, name): position_from_json(symbol_of(symbols, name), data)
            for name, data in snapshot["positions"].items()
        }
        next_time = snapshot["next_bar"]
        self._next_bar = self._n if next_time is None else int(self._open_ms.searchsorted(next_time))

        def work(data: Snapshot) -> _Working:
            request = request_from_json(symbols, data["request"])
            j = self._col[request.symbol]
            w = _Working(request, j, self._low[j], self._high[j])
            w.status = OrderStatus(data["status"])
            w.filled = Decimal(data["filled"])
            w.average = undec(data["average"])
            w.reason = data["reason"]
            return w

        for data in snapshot["open_orders"]:
            w = work(data)
            self._orders[w.oid] = self._open[w.oid] = w
            if w.is_market:
                self._market.append(w)
            else:
                w.trigger_at = self._next_bar  # nothing fills before the next bar: search from there
                self._resting.append(w)
        self._refresh_min()
        self._rejections = [work(data) for data in snapshot["rejections"]]
        self._liquidation = {symbol_of(symbols, name): oid for name, oid in snapshot["liquidation"].items()}
        # the liquidation stop's count within a bar (_liquidation_bar) starts again at the next bar: not kept

    # -- the SignalReplay capability: one symbol replayed event to event -------------------------------
    def can_replay(self, column: int) -> bool:
        return self._spot and not self._orders and not self._positions and bool(self._tradable[column].all())

    def replay(
        self,
        column: int,
        start: int,
        signals: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        equity: np.ndarray,
        exposure: np.ndarray,
        decide: Callable[[ReplayAccount], OrderRequest | None],
        exit_id: Callable[[int], str],
        deny: Callable[[int, str], None],
        *,
        peak: float = math.nan,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplayOutcome:
        if not self.can_replay(column):
            raise DomainError("this simulation cannot be replayed signal to signal")
        symbol = self._symbols[column]
        instrument = self._instruments[symbol]
        n = self._n
        replayer = rk.SignalReplayer(
            self._open_px[column], self._low[column], self._mark[column], self._slip[column],
            self._open_ms, signals, equity, exposure, instrument=instrument, cash=self._cash,
            fee_rate=self._taker, slip_factors=self._slip_factors, slip_pair=self._slip_pair, peak=peak,
        )  # fmt: skip
        bar_ms, open_ms, clock = self._bar_ms, self._open_ms, self._clock

        def decide_at(account: ReplayAccount) -> OrderRequest | None:
            clock.set(open_ms.item(account.bar) + bar_ms)
            return decide(account)

        def reject(bar: int, reason: str) -> None:
            clock.set(open_ms.item(bar) + bar_ms)
            deny(bar, reason)

        replayer.run(start, decide_at, reject, exit_id, progress)
        clock.set(open_ms.item(n - 1) + bar_ms)
        self._next_bar = n
        return self._settle_replay(symbol, replayer, exit_id)

    def _settle_replay(
        self, symbol: Symbol, replayer: rk.SignalReplayer, exit_id: Callable[[int], str]
    ) -> ReplayOutcome:
        """The venue's account and open orders as ``process_bar`` would have left them after the replay."""
        self._cash = replayer.cash
        self._fill_log.extend(replayer.fills)
        if replayer.fills:
            self._positions[symbol] = Position(
                symbol, replayer.quantity, replayer.cost, replayer.realized, replayer.fees
            )
        # Orders still open at the end: the stop of an open position, and market orders decided at the
        # last bar.
        quantity = replayer.quantity
        entries = replayer.entries
        if replayer.open_seq:
            parent = entries[replayer.open_seq]
            if parent.stop_loss is not None:
                self._rest(
                    OrderRequest(
                        derived_id(parent.client_order_id, STOP), symbol, _SELL, _STOP, quantity, parent.created_at,
                        stop_price=parent.stop_loss, reduce_only=True, tag="stop_loss",
                    ),
                    self._n,
                )  # fmt: skip
        if replayer.pending_exit:
            self._market.append(
                self._track(
                    OrderRequest(
                        exit_id(self._n - 1), symbol, _SELL, _MARKET, quantity, self._clock.now_ms(),
                        reduce_only=True, tag="exit",
                    )
                )
            )  # fmt: skip
        if replayer.pending_entry:
            self._market.append(self._track(entries[replayer.pending_entry]))
        return ReplayOutcome(
            replayer.fills,
            replayer.rows,
            replayer.cash_after,
            replayer.held_after,
            replayer.trade_pnl,
            replayer.peak,
            replayer.seq,
            self._cash,
            self._positions.get(symbol),
        )

    # -- matching -------------------------------------------------------------------------------------
    def _match_resting(self, index: int, fills: list[Fill]) -> None:
        """Fill the resting orders that trigger in bar ``index`` (stops, limits, and those attached by fills
        earlier in the bar), one at a time in intrabar order: ``intrabar`` ranks stops against limits,
        then submission order. Orders attached while this runs are picked up too."""
        done: list[_Working] = []
        stops_first = self._stops_first
        while self._min_trigger <= index:
            best: _Working | None = None
            best_rank = 2
            for work in self._resting:
                if not work.known:
                    if work.trigger_at > index:
                        continue
                    self._advance(work, index + 1)
                    if not work.known:
                        continue
                if work.trigger_at <= index and work not in done:
                    rank = 0 if work.is_stop == stops_first else 1
                    if rank < best_rank:
                        best, best_rank = work, rank
            self._refresh_min()
            if best is None:
                break
            done.append(best)
            self._fill_resting(best, index, fills)

    def _slipped(self, reference: Decimal, is_buy: bool, j: int, index: int) -> Decimal:
        slip = self._slip[j].item(index)
        if slip == 0:
            return reference
        factors = self._slip_factors.get(slip) or self._slip_pair(slip)
        return reference * factors[0] if is_buy else reference * factors[1]

    def _slip_pair(self, slip: float) -> tuple[Decimal, Decimal]:
        """``(1 + slip, 1 - slip)`` in decimals (the fraction as written), cached."""
        if len(self._slip_factors) > 4096:  # volatility slippage: a new fraction on most bars
            self._slip_factors.clear()
        factor = Decimal(repr(slip))
        pair = self._slip_factors[slip] = (_ONE + factor, _ONE - factor)
        return pair

    def _fill_market(self, work: _Working, index: int, fills: list[Fill]) -> None:
        reference = _dec(self._open_px[work.col].item(index))
        price = self._slipped(reference, work.is_buy, work.col, index)
        quantity = self._quantity_for(work, price, self._taker, index)
        if quantity is not None:
            self._execute(work, quantity, price, reference, self._taker, "taker", index, fills)

    def _fill_resting(self, work: _Working, index: int, fills: list[Fill]) -> None:
        request = work.request
        bar_open = _dec(self._open_px[work.col].item(index))
        if work.is_stop:
            stop = request.stop_price or bar_open
            # A gap through the stop fills at the open, which is worse than the stop.
            reference = max(bar_open, stop) if work.is_buy else min(bar_open, stop)
            price = self._slipped(reference, work.is_buy, work.col, index)
            rate, liquidity = self._taker, "taker"
        else:
            limit = request.price or bar_open
            reference = min(bar_open, limit) if work.is_buy else max(bar_open, limit)
            price, rate, liquidity = reference, self._maker, "maker"
        quantity = self._quantity_for(work, price, rate, index)
        if quantity is not None:
            self._execute(work, quantity, price, reference, rate, liquidity, index, fills)

    def _quantity_for(self, work: _Working, price: Decimal, fee_rate: Decimal, index: int) -> Decimal | None:
        """The quantity this fill can have, or ``None`` after closing the order when it cannot fill."""
        instrument = self._instruments[work.symbol]
        held = self._held(work.symbol)
        if work.quantity is None:
            quote = work.request.quote_quantity or _ZERO
            quantity = instrument.round_quantity(quote / (price * (_ONE + fee_rate)))
        else:
            quantity = work.quantity - work.filled
        if work.reduce_only:
            reducible = -held if work.is_buy else held
            if reducible <= 0:
                self._close(work, _CANCELED, "reduce-only order with nothing to reduce")
                return None
            return min(quantity, reducible)
        if quantity <= 0:
            self._close(work, _REJECTED, rules.ZERO_QUANTITY)
            return None
        if price * quantity < instrument.min_notional:
            self._close(work, _REJECTED, rules.below_minimum(price * quantity, instrument.min_notional))
            return None
        try:
            self._check_margin(work, quantity, price, fee_rate, held, index)
        except InsufficientBalance as e:
            self._close(work, _REJECTED, str(e))
            return None
        return quantity

    def _check_margin(
        self, work: _Working, quantity: Decimal, price: Decimal, fee_rate: Decimal, held: Decimal, index: int
    ) -> None:
        """Spot: a buy must be paid in cash. Margin: the new exposure needs free margin for 1/leverage of it."""
        fee = price * quantity * fee_rate
        closing = min(quantity, abs(held)) if (held > 0) != work.is_buy and held != 0 else _ZERO
        opening = quantity - closing
        if opening <= 0:
            return
        if self._spot and work.is_buy:
            cost = price * quantity + fee
            if cost > self._cash:
                raise InsufficientBalance(rules.insufficient_balance(cost, self._cash))
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
                m = self._mark[self._col[s]].item(index)
                marks[s] = _dec(m) if not math.isnan(m) else p.average_entry
        return marks

    def _execute(
        self,
        work: _Working,
        quantity: Decimal,
        price: Decimal,
        reference: Decimal,
        fee_rate: Decimal,
        liquidity: str,
        index: int,
        fills: list[Fill],
    ) -> None:
        symbol = work.symbol
        request = work.request
        fee = price * quantity * fee_rate
        work.fills += 1
        fill = Fill(
            work.oid, symbol, work.side, quantity, price, fee, self._open_ms.item(index), liquidity,
            abs(price - reference) * quantity, request.tag, f"{work.oid}#{work.fills}", self._quote,
        )  # fmt: skip
        self._fill_log.append(fill)
        self._cash = self._cash - quantity * price - fee if work.is_buy else self._cash + quantity * price - fee
        previous = self._positions.get(symbol)
        position = (previous if previous is not None else Position(symbol)).apply(fill)
        self._positions[symbol] = position
        fills.append(fill)
        # The order's fill state, as Order.with_fill computes it (the fill is within the order by construction).
        filled = work.filled + quantity
        work.average = ((work.average or _ZERO) * work.filled + price * quantity) / filled
        work.filled = filled
        if work.quantity is None or filled == work.quantity:  # a quote-sized order is done with its one fill
            self._close(work, _FILLED, work.reason)
        else:
            work.status = _PARTIAL
        if not position.quantity:
            # Orders that protected the position go with it (as on venues that cancel reduce-only
            # orders when a position closes): an old stop must never sell the next position.
            for other in [w for w in self._open.values() if w.reduce_only and w.symbol == symbol]:
                self._close(other, _CANCELED, "position closed")
        if not work.reduce_only and (request.stop_loss is not None or request.take_profits):
            self._attach_brackets(request, quantity, index)
        if symbol in self._liquidation or (position.quantity and (not self._spot or position.quantity < 0)):
            self._update_liquidation(symbol, index, work.oid)

    def _attach_brackets(self, parent: OrderRequest, quantity: Decimal, index: int) -> None:
        """Place the entry's stop-loss and take-profit ladder; they can trigger from this bar on."""
        exit_side = parent.side.opposite
        if parent.stop_loss is not None:
            self._rest(
                OrderRequest(
                    derived_id(parent.client_order_id, STOP), parent.symbol, exit_side, _STOP, quantity,
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
                        derived_id(parent.client_order_id, take_profit(n)), parent.symbol, exit_side,
                        OrderType.LIMIT, part, parent.created_at, price=price, reduce_only=True, tag="take_profit",
                    ),
                    index,
                )  # fmt: skip

    def _update_liquidation(self, symbol: Symbol, index: int, cause: str) -> None:
        """Move the liquidation stop after a fill of order ``cause`` in bar ``index`` changed the position."""
        position = self._positions.get(symbol) or Position(symbol)
        old = self._liquidation.pop(symbol, None)
        if old is not None:
            self.cancel(old)
        if position.is_flat or (self._spot and position.is_long):
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
        # Named like the engine's orders: the session of the order whose fill moved it, the bar, and the
        # revision within that bar (several fills in one bar move it several times).
        at, placed = self._liquidation_bar.get(symbol, (-1, 0))
        revision = placed if at == index else 0
        self._liquidation_bar[symbol] = (index, revision + 1)
        session = cause.partition("-")[0]  # an id of application/order_ids.py starts with its session
        request = OrderRequest(
            order_id(session, symbol, self._open_ms.item(index), LIQUIDATION, revision), symbol, side, OrderType.STOP,
            abs(position.quantity),
            self._open_ms.item(index), stop_price=level, reduce_only=True, tag="liquidation",
        )  # fmt: skip
        self._liquidation[symbol] = request.client_order_id
        self._rest(request, index)

    def _track(self, request: OrderRequest) -> _Working:
        j = self._col[request.symbol]
        work = _Working(request, j, self._low[j], self._high[j])
        self._orders[work.oid] = work
        self._open[work.oid] = work
        return work

    def _rest(self, request: OrderRequest, index: int) -> _Working:
        work = self._track(request)
        self._resting.append(work)
        # Only the bar the order can first fill in is looked at now; the rest is searched when someone asks.
        if index < self._n:
            price = work.prices.item(index)
            work.known = price <= work.level if work.below else price >= work.level  # False for NaN
        # Past the last bar held (a live venue between candles) the search starts at that bar once it comes.
        work.trigger_at = index if work.known or index >= self._n else index + 1
        self._min_trigger = min(self._min_trigger, work.trigger_at)
        return work

    def _close(self, work: _Working, status: OrderStatus, reason: str) -> None:
        work.status = status
        work.reason = reason
        if status is _REJECTED:
            self._rejections.append(work)
        if self._open.pop(work.oid, None) is not None:
            if work.is_market:
                self._market.remove(work)
            else:
                self._resting.remove(work)
                if work.trigger_at == self._min_trigger:
                    self._refresh_min()
