"""The one engine loop. Backtests, paper and live trading all run bars through :meth:`Engine.process_bar`.

A backtest calls :meth:`Engine.run`, which visits only the bars where something can happen (a signal, an
order that can fill) and marks equity in between with whole-array arithmetic; a live session calls
``process_bar`` for each closed candle. Decisions taken at bar ``t``'s close become orders that the broker
can fill from bar ``t + 1`` on: a backtest never trades on a price it could not have seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

import numpy as np

from application.ports.broker import Broker
from application.ports.clock import Clock
from application.ports.errors import OrderRejected
from domain.model.candles import CandleSeries, FloatArray
from domain.model.orders import Fill, OrderRequest, OrderType, Side
from domain.model.portfolio import Portfolio
from domain.model.positions import ZERO, Position
from domain.model.trades import Direction, Trade
from domain.strategies.base import Signals

ProgressCallback = Callable[[int, int], None]
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Denial:
    """A decision the engine could not carry out, with the reason (shown in reports)."""

    time_ms: int
    symbol: str
    reason: str


@dataclass(slots=True)
class EngineState:
    """Everything the loop carries from one bar to the next; small, so a live session can persist it."""

    portfolio: Portfolio
    order_seq: int = 0
    entry_time: int = 0
    open_fees: Decimal = ZERO  # entry fees of the open quantity not yet charged to a closed trade
    last_index: int = -1


@dataclass(frozen=True, slots=True, eq=False)
class EngineResult:
    """What a run produced: equity marked at every bar's close, the trade ledger, fills and denials."""

    equity: FloatArray
    trades: list[Trade]
    fills: list[Fill]
    denials: list[Denial]
    portfolio: Portfolio

    @property
    def fees_paid(self) -> float:
        return float(sum((f.fee for f in self.fills), ZERO))


@dataclass(slots=True)
class Engine:
    """Turns signals into orders through a :class:`Broker`, and fills into positions and trades."""

    candles: CandleSeries
    signals: Signals
    broker: Broker
    clock: Clock
    initial_cash: Decimal
    run_id: str = "bt"
    allow_short: bool = False
    state: EngineState = field(init=False)
    equity: FloatArray = field(init=False)
    trades: list[Trade] = field(init=False, default_factory=list)
    fills: list[Fill] = field(init=False, default_factory=list)
    denials: list[Denial] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.state = EngineState(Portfolio(self.candles.symbol.quote, self.initial_cash))
        self.equity = np.full(len(self.candles), np.nan)

    # -- the per-bar step, shared by every mode -------------------------------------------------------
    def process_bar(self, i: int) -> None:
        """Bar ``i`` has closed: take the broker's fills during it, mark equity at its close, decide."""
        for fill in self.broker.process_bar(i):
            self._on_fill(fill)
        for rejected in self.broker.take_rejections():
            self._deny(f"{rejected.request.tag or 'order'} rejected by the broker: {rejected.reason}")
        self.state.last_index = i
        cash, qty = self._cash_and_quantity()
        self.equity[i] = cash + qty * float(self.candles.close[i])
        if i >= self.signals.warmup:
            self._decide(i, float(self.equity[i]))

    def run(self, start: int = 0, progress: ProgressCallback | None = None) -> EngineResult:
        """Replay bars ``start..end``, visiting only those where something can happen."""
        n = len(self.candles)
        events = self.signals.event_bars()
        close = self.candles.close
        report_every = max(n // 100, 50_000)
        next_report = report_every
        i = start
        while i < n:
            self.process_bar(i)
            # The next bar where something can happen: a decision, or an order that can fill.
            k = int(np.searchsorted(events, i, side="right"))
            next_event = int(events[k]) if k < events.shape[0] else n
            nxt = min(self.broker.quiet_until(i + 1) + 1, next_event, n)
            nxt = max(nxt, i + 1)
            if nxt > i + 1:
                cash, qty = self._cash_and_quantity()
                self.equity[i + 1 : nxt] = cash + qty * close[i + 1 : nxt]
            i = nxt
            if progress is not None and i >= next_report:
                progress(min(i, n), n)
                next_report = i + report_every
        if progress is not None:
            progress(n, n)
        return self.result()

    def result(self) -> EngineResult:
        return EngineResult(self.equity, list(self.trades), list(self.fills), list(self.denials), self.state.portfolio)

    # -- decisions ------------------------------------------------------------------------------------
    def _decide(self, i: int, equity_now: float) -> None:
        s = self.signals
        long_entry, long_exit, short_entry, short_exit = s.at(i)
        if not (long_entry or long_exit or short_entry or short_exit):
            return
        position = self.state.portfolio.position(self.candles.symbol)
        flat_after = position.is_flat
        if (position.is_long and (long_exit or short_entry)) or (position.is_short and (short_exit or long_entry)):
            self._submit_exit(position, "exit")
            flat_after = True
        if not flat_after:
            return
        if long_entry:
            self._submit_entry(i, Side.BUY, equity_now)
        elif short_entry:
            if self.allow_short:
                self._submit_entry(i, Side.SELL, equity_now)
            else:
                self._deny("short entry signal ignored: this account does not allow short selling")

    def _next_id(self, tag: str) -> str:
        self.state.order_seq += 1
        return f"{self.run_id}-{self.state.order_seq}-{tag}"

    def _submit_exit(self, position: Position, tag: str) -> None:
        side = Side.SELL if position.is_long else Side.BUY
        request = OrderRequest(
            self._next_id(tag),
            self.candles.symbol,
            side,
            OrderType.MARKET,
            abs(position.quantity),
            self.clock.now_ms(),
            reduce_only=True,
            tag=tag,
        )
        self._send(request)

    def _submit_entry(self, i: int, side: Side, equity_now: float) -> None:
        symbol = self.candles.symbol
        instrument = self.broker.instrument(symbol)
        size = float(self.signals.size[i])
        budget = equity_now * size
        if not budget > 0 or not size > 0:
            self._deny(f"no equity to commit (equity {equity_now:.2f}, size {size:g})")
            return
        price = float(self.candles.close[i])
        distance = float(self.signals.stop_distance[i])
        stop: Decimal | None = None
        if not math.isnan(distance) and distance > 0:
            level = price - distance if side is Side.BUY else price + distance
            if level <= 0:
                self._deny(f"stop distance {distance:g} is larger than the price {price:g}")
                return
            stop = instrument.round_price(level)
        now = self.clock.now_ms()
        if side is Side.BUY:
            quote = Decimal(repr(float(budget))).quantize(_CENT, rounding=ROUND_DOWN)
            request = OrderRequest(
                self._next_id("entry"), symbol, side, OrderType.MARKET, None, now,
                quote_quantity=quote, stop_loss=stop, tag="entry",
            )  # fmt: skip
        else:
            quantity = instrument.round_quantity(budget / price)
            if quantity <= 0:
                self._deny(f"equity {equity_now:.2f} buys less than one step of {symbol}")
                return
            request = OrderRequest(
                self._next_id("entry"),
                symbol,
                side,
                OrderType.MARKET,
                quantity,
                now,
                stop_loss=stop,
                tag="entry",
            )
        self._send(request)

    def _send(self, request: OrderRequest) -> None:
        try:
            self.broker.submit(request)
        except OrderRejected as e:
            self._deny(f"{request.tag} order rejected: {e}")

    def _deny(self, reason: str) -> None:
        self.denials.append(Denial(self.clock.now_ms(), str(self.candles.symbol), reason))

    # -- bookkeeping ----------------------------------------------------------------------------------
    def _cash_and_quantity(self) -> tuple[float, float]:
        portfolio = self.state.portfolio
        return float(portfolio.cash), float(portfolio.position(self.candles.symbol).quantity)

    def _on_fill(self, fill: Fill) -> None:
        state = self.state
        before = state.portfolio.position(fill.symbol)
        state.portfolio = state.portfolio.apply(fill)
        self.fills.append(fill)
        delta = fill.signed_quantity
        held = before.quantity
        if held == 0 or (held > 0) == (delta > 0):
            if held == 0:
                state.entry_time = fill.timestamp
            state.open_fees += fill.fee
            return
        closing = min(abs(delta), abs(held))
        entry_fee = state.open_fees if closing == abs(held) else state.open_fees * closing / abs(held)
        exit_fee = fill.fee if closing == abs(delta) else fill.fee * closing / abs(delta)
        direction = Direction.LONG if held > 0 else Direction.SHORT
        entry_price = before.average_entry
        gross = direction.sign * closing * (fill.price - entry_price)
        self.trades.append(
            Trade(
                fill.symbol,
                direction,
                state.entry_time,
                fill.timestamp,
                float(entry_price),
                float(fill.price),
                float(closing),
                float(entry_fee + exit_fee),
                float(gross - entry_fee - exit_fee),
                exit_reason=fill.client_order_id.rsplit("-", 1)[-1],
            )
        )
        state.open_fees -= entry_fee
        opened = abs(delta) - closing
        if opened > 0:  # flipped to the other side
            state.entry_time = fill.timestamp
            state.open_fees = fill.fee - exit_fee
