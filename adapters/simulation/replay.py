"""The signal replay: the simulated venue and the engine's per-bar bookkeeping for one symbol, jumping from
event to event instead of visiting bars.

The replay applies the same rules as :class:`SimulatedBroker` (market orders at the next bar's open moved by
the slippage, quote-sized buys that pay the fee out of the amount, a stop-loss attached at the entry fill
that can trigger in that bar and fills at the stop or at a worse open, taker fees, the step size, the
exchange minimum and the cash check) and as ``Engine.process_bar`` (marking equity and exposure at each
close, the peak, exits on ``long_exit``/``short_entry`` while long, entries on ``long_entry``/``short_entry``
while flat). Between two events nothing can happen, so it never looks at those bars one by one:

- flat, the next event is the next bar that asks for an entry (a sorted list of them, bisected);
- long, it is the next bar that asks for an exit, or the first bar before it whose low reaches the stop
  (one vectorised search over the bars in between);
- equity between events is cash (flat) or cash + quantity x close (long): equity and exposure are written
  once, at the end, from the cash and the quantity held after each fill (``equity_at`` gives an earlier
  bar's equity while the replay runs, for the engine's risk rules).

It hands control back to the engine for every entry decision, so sizing and risk checks stay the domain's
code. Arithmetic is in float64 (quantities are whole numbers of steps); the broker rebuilds the decimal fills
from the fill table. ``docs/adr/0003-backtest-speed.md`` (fifth and sixth steps) says which runs take this
path and why.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import numpy as np

from application.ports.broker import ReplayAccount
from domain.model.candles import FloatArray
from domain.model.orders import OrderRequest

# Fill kinds (the second field of a fill record).
ENTRY, EXIT, STOP_LOSS = 0, 1, 2
# Why an entry could not fill: the same three reasons as the broker's.
REJ_ZERO, REJ_NOTIONAL, REJ_BALANCE = 1, 2, 3

Decide = Callable[[ReplayAccount], "OrderRequest | None"]
T = TypeVar("T", float, np.ndarray)
Reject = Callable[[int, int, float, float], None]  # bar, code, amount, cash


class SignalReplayer:
    """One replay of bars ``start..n`` for one symbol. ``run`` fills ``equity`` and ``exposure`` and leaves
    the outcome in its attributes:

    - ``fills``: ``(bar, kind, order number, quantity in steps)`` per fill, in order;
    - ``entries``: the entry order of each order number;
    - ``cash``, ``steps`` (held at the end), ``stop`` (its stop level, NaN: none), ``open_seq`` (the order
      that opened it), ``seq`` (orders numbered), ``peak``;
    - ``pending_exit`` / ``pending_entry``: order numbers decided at the last bar and not filled (0: none).
    """

    __slots__ = (
        "cash", "cash_after", "entries", "equity", "exposure", "fee", "fills", "inv_step", "low", "mark",
        "min_notional", "open", "open_seq", "peak", "pending_entry", "pending_exit", "seq", "signals", "slip", "start",
        "start_cash", "step", "steps", "stop", "track_peak",
    )  # fmt: skip

    def __init__(
        self,
        open_: FloatArray,
        low: FloatArray,
        mark: FloatArray,
        slip: FloatArray,
        signals: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        equity: FloatArray,
        exposure: FloatArray,
        *,
        cash: float,
        fee: float,
        step: Decimal,
        min_notional: float,
        peak: float = math.nan,
    ) -> None:
        self.open, self.low, self.mark, self.slip = open_, low, mark, slip
        self.signals = signals
        self.equity, self.exposure = equity, exposure
        self.cash, self.fee, self.step, self.min_notional = cash, fee, float(step), min_notional
        inverse = 1 / step
        # steps / (1/step) is correctly rounded when 1/step is a whole number (0.001, 0.00001 ...), as
        # float(Decimal) of the exact quantity is; steps * step is not always.
        self.inv_step = float(inverse) if inverse == inverse.to_integral_value() else 0.0
        self.track_peak = not math.isnan(peak)
        self.peak = peak
        self.fills: list[tuple[int, int, int, int]] = []
        self.cash_after: list[float] = []  # the cash balance after each fill
        self.start = 0
        self.start_cash = cash
        self.entries: dict[int, OrderRequest] = {}
        self.steps = 0
        self.stop = math.nan
        self.open_seq = self.seq = self.pending_exit = self.pending_entry = 0

    def quantity(self, steps: T) -> T:
        """``steps`` x the step size as a float (or an array of them): the same float as the decimal."""
        inv = self.inv_step
        return steps / inv if inv > 0 else steps * self.step

    def run(
        self,
        start: int,
        decide: Decide,
        reject: Reject,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        le, lx, se = self.signals[:3]
        n = self.equity.shape[0]
        self.start = start
        if start >= n:
            return
        open_, low, mark, slip = self.open, self.low, self.mark, self.slip
        fee, inv_step, step, min_notional = self.fee, self.inv_step, self.step, self.min_notional
        # The bars that ask for an entry (while flat) and for an exit (while long), ascending.
        entry_bars = (np.flatnonzero(le[start:] | se[start:]) + start).tolist()
        exit_bars = (np.flatnonzero(lx[start:] | se[start:]) + start).tolist()
        n_entry, n_exit = len(entry_bars), len(exit_bars)
        find = bisect.bisect_left
        highest = np.maximum.reduce
        track = self.track_peak
        peak = self.peak
        record = self.fills.append
        balance = self.cash_after.append
        entries = self.entries
        account = ReplayAccount()
        account.equity_at = self.equity_at
        cash = self.cash
        seq = wins = losses = 0
        win_sum = loss_sum = 0.0
        report_every = max(n // 100, 50_000)
        next_report = start + report_every
        i = start  # the next bar to replay; flat at its open
        pending: OrderRequest | None = None  # an entry decided at bar i - 1
        ke = kx = 0
        while True:
            if pending is not None:
                # -- the entry decided at the previous bar fills at this bar's open, or is rejected -------
                request, pending = pending, None
                entry_price = open_.item(i) * (1.0 + slip.item(i))
                amount = float(request.quote_quantity or 0) / (entry_price * (1.0 + fee))
                steps = math.floor(amount * inv_step if inv_step > 0 else amount / step)
                qty = steps / inv_step if inv_step > 0 else steps * step
                notional = entry_price * qty
                entry_fee = notional * fee
                if steps <= 0:
                    reject(i, REJ_ZERO, 0.0, 0.0)
                elif notional < min_notional:
                    reject(i, REJ_NOTIONAL, notional, 0.0)
                elif notional + entry_fee > cash:
                    reject(i, REJ_BALANCE, notional + entry_fee, cash)
                else:
                    # -- long from bar i: the next exit signal, and the stop's first touch up to it ------
                    cash = cash - notional - entry_fee
                    order = seq
                    record((i, ENTRY, order, steps))
                    balance(cash)
                    stop = math.nan if request.stop_loss is None else float(request.stop_loss)
                    kx = find(exit_bars, i, kx)
                    x = exit_bars[kx] if kx < n_exit else n
                    last = x if x < n else n - 1
                    hit = last + 1
                    if stop > 0:  # the first bar up to the exit signal whose low reaches the stop
                        touched = low[i:hit] <= stop
                        k = touched.argmax()  # the first True, or 0 when there is none
                        if touched.item(k):
                            hit = i + int(k)
                    if hit <= last:
                        # The stop fills in bar `hit`, at the stop or at a worse open (a gap through it).
                        if track and hit > i:
                            peak = max(peak, float(highest(mark[i:hit])) * qty + cash)
                        bar_open = open_.item(hit)
                        price = (bar_open if bar_open < stop else stop) * (1.0 - slip.item(hit))
                        exit_row, kind, exit_order = hit, STOP_LOSS, order
                    else:
                        if track:
                            peak = max(peak, float(highest(mark[i : last + 1])) * qty + cash)
                        if x >= n:  # still long at the end
                            self.steps, self.stop, self.open_seq = steps, stop, order
                            break
                        # The exit signal at bar x: an exit order, and maybe the next entry, both for x + 1.
                        seq += 1
                        exit_order = seq
                        if le.item(x) or se.item(x):
                            value = qty * mark.item(x)
                            account.bar = x
                            account.cash = cash
                            account.quantity = qty
                            account.equity = cash + value
                            account.gross = abs(value)
                            account.peak = peak
                            account.seq = seq
                            pending = decide(account)
                            if pending is not None:
                                seq += 1
                                entries[seq] = pending
                        exit_row = x + 1
                        if exit_row >= n:  # decided at the last bar: left for the next bar
                            self.steps, self.stop, self.open_seq = steps, stop, order
                            self.pending_exit = exit_order
                            self.pending_entry = seq if pending is not None else 0
                            break
                        price = open_.item(exit_row) * (1.0 - slip.item(exit_row))
                        kind = EXIT
                    # -- the exit fills: flat from here ------------------------------------------------
                    exit_fee = price * qty * fee
                    cash = cash + qty * price - exit_fee
                    record((exit_row, kind, exit_order, steps))
                    balance(cash)
                    net = qty * (price - entry_price) - entry_fee - exit_fee
                    if net > 0:
                        wins += 1
                        win_sum += net
                        account.wins, account.win_sum = wins, win_sum
                    elif net < 0:
                        losses += 1
                        loss_sum -= net
                        account.losses, account.loss_sum = losses, loss_sum
                    i = exit_row
                    if pending is not None:
                        continue  # the next entry fills at this bar's open, after the exit
            # -- flat from bar i (its fills done) to the next bar that asks for an entry -----------------
            if progress is not None and i >= next_report:
                progress(i, n)
                next_report = i + report_every
            ke = find(entry_bars, i, ke)
            d = entry_bars[ke] if ke < n_entry else n
            if track and cash > peak:
                peak = cash
            if d >= n:
                break
            account.bar = d
            account.cash = account.equity = cash
            account.quantity = account.gross = 0.0
            account.peak = peak
            account.seq = seq
            pending = decide(account)
            if pending is not None:
                seq += 1
                entries[seq] = pending
            i = d + 1
            if i >= n:
                if pending is not None:
                    self.pending_entry = seq
                break
        self.cash = cash
        self.seq = seq
        self.peak = peak
        self._write_marks(n)

    def _held_after(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bars of the fills, and the quantity held and the cash after each (after none: the start)."""
        table = np.array(self.fills, dtype=np.int64).reshape(-1, 4)
        rows = np.concatenate(([self.start], table[:, 0]))
        steps = np.concatenate(([0], np.where(table[:, 1] == ENTRY, table[:, 3], 0))).astype(np.float64)
        quantities = self.quantity(steps)
        return rows, quantities, np.array([self.start_cash, *self.cash_after])

    def equity_at(self, bar: int) -> float:
        """Equity at the close of ``bar`` (at or before the bar being decided; NaN before the start): what
        :meth:`run` writes there at the end."""
        if bar < self.start:
            return math.nan
        fills = self.fills
        k = len(fills) - 1  # the last fill at or before the bar: usually the last fill
        if k >= 0 and fills[k][0] > bar:
            k = bisect.bisect_right(fills, (bar, 3)) - 1
        if k < 0:
            return self.start_cash
        _, kind, _, steps = fills[k]
        cash = self.cash_after[k]
        if kind != ENTRY:
            return cash
        return self.mark.item(bar) * self.quantity(steps) + cash

    def _write_marks(self, n: int) -> None:
        """Equity and gross exposure / equity at each close (NaN where equity is not positive), from the
        quantity held and the cash between fills: the same float operations as marking bar by bar."""
        start = self.start
        rows, quantities, balances = self._held_after()
        lengths = np.diff(np.append(rows, n))
        held = np.repeat(quantities, lengths)
        cash = np.repeat(balances, lengths)
        value = held * self.mark[start:n]  # 0 while flat (every bar is tradable: the marks are finite)
        equity = self.equity[start:n]
        np.add(value, cash, out=equity)
        exposure = self.exposure[start:n]
        np.abs(value, out=value)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(value, equity, out=exposure)
        unfunded = equity <= 0
        if unfunded.any():
            exposure[unfunded] = np.nan
