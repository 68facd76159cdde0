"""The signal replay: the simulated venue and the engine's per-bar bookkeeping for one symbol, jumping from
event to event instead of visiting bars.

The replay applies the same rules, with the same decimal operations, as :class:`SimulatedBroker` (market
orders at the next bar's open moved by the slippage, quote-sized buys that pay the fee out of the amount,
the step size, the exchange minimum and the cash check, a stop-loss attached at the entry fill that can
trigger in that bar and fills at the stop or at a worse open, taker fees) and as ``Engine.process_bar``
(marking equity and exposure at each close from the float of the decimal cash, the peak, exits on
``long_exit``/``short_entry`` while long, entries on ``long_entry``/``short_entry`` while flat). Between two
events nothing can happen, so it never looks at those bars one by one:

- flat, the next event is the next bar that asks for an entry (a sorted list of them, bisected);
- long, it is the next bar that asks for an exit, or the first bar before it whose low reaches the stop
  (one vectorised comparison over the bars in between);
- equity between events is cash (flat) or cash + quantity x close (long): equity and exposure are written
  once, at the end, from the cash and the quantity held after each fill (``equity_at`` gives an earlier
  bar's equity while the replay runs, for the engine's risk rules).

It hands control back to the engine for every entry decision, so sizing and risk checks stay the domain's
code. Money is decimal, as in the broker, so fills, rejections and the ledger are those of visiting every
bar, and the floats the engine sees (cash, quantity, equity) are the same floats.
``docs/adr/0003-backtest-speed.md`` (fifth and sixth steps) says which runs take this path and why.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from adapters.simulation import rules
from application.order_ids import STOP, derived_id
from application.ports.simulation import ReplayAccount
from domain.model.candles import FloatArray, IntArray
from domain.model.market import reduce_spans
from domain.model.orders import Fill, OrderRequest, Side
from domain.model.positions import exact_add as _pos_add
from domain.model.positions import exact_mul as _pos_mul
from domain.model.positions import exact_sub as _pos_sub
from domain.model.symbols import Instrument

_ZERO = Decimal(0)
_ONE = Decimal(1)
_BUY, _SELL = Side.BUY, Side.SELL

Decide = Callable[[ReplayAccount], "OrderRequest | None"]
Reject = Callable[[int, str], None]  # bar, reason
SlipFactors = Callable[[float], tuple[Decimal, Decimal]]  # slippage fraction -> (1 + s, 1 - s)


class SignalReplayer:
    """One replay of bars ``start..n`` for one symbol. ``run`` fills ``equity`` and ``exposure`` and leaves
    the outcome in its attributes:

    - ``fills``: the fills, in order, and ``rows`` the bar of each; ``cash_after``: the float of the cash
      after each, ``held_after``: the float quantity held after each; ``trade_pnl``: the net PnL of each
      closed round trip (``Engine._on_fill``'s);
    - ``entries``: the entry order of each order number;
    - ``cash`` (decimal), ``quantity``, ``cost``, ``realized``, ``fees``: the account and the position's
      exact bookkeeping (as ``Position.apply`` keeps it) at the end;
    - ``open_seq``: the order that opened the position still open (0: flat), ``seq`` (orders numbered),
      ``peak``;
    - ``pending_exit`` / ``pending_entry``: order numbers decided at the last bar and not filled (0: none).
    """

    __slots__ = (
        "cash", "cash_after", "cost", "entries", "equity", "exposure", "factors", "fees", "fills", "held_after",
        "instrument", "low", "mark", "open", "open_ms", "open_seq", "peak", "pending_entry", "pending_exit",
        "quantity", "rate", "realized", "rows", "seq", "signals", "slip", "slip_pair", "start", "start_cash",
        "track_peak", "trade_pnl",
    )  # fmt: skip

    def __init__(
        self,
        open_: FloatArray,
        low: FloatArray,
        mark: FloatArray,
        slip: FloatArray,
        open_ms: IntArray,
        signals: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        equity: FloatArray,
        exposure: FloatArray,
        *,
        instrument: Instrument,
        cash: Decimal,
        fee_rate: Decimal,
        slip_factors: dict[float, tuple[Decimal, Decimal]],
        slip_pair: SlipFactors,
        peak: float = math.nan,
    ) -> None:
        self.open, self.low, self.mark, self.slip, self.open_ms = open_, low, mark, slip, open_ms
        self.signals = signals
        self.equity, self.exposure = equity, exposure
        self.instrument = instrument
        self.cash, self.rate = cash, fee_rate
        self.factors, self.slip_pair = slip_factors, slip_pair
        self.track_peak = not math.isnan(peak)
        self.peak = peak
        self.fills: list[Fill] = []
        self.rows: list[int] = []
        self.cash_after: list[float] = []
        self.held_after: list[float] = []
        self.trade_pnl: list[float] = []
        self.start = 0
        self.start_cash = float(cash)
        self.entries: dict[int, OrderRequest] = {}
        self.quantity = self.cost = self.realized = self.fees = _ZERO
        self.open_seq = self.seq = self.pending_exit = self.pending_entry = 0

    def run(
        self,
        start: int,
        decide: Decide,
        reject: Reject,
        exit_id: Callable[[int], str],
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        le, lx, se = self.signals[:3]
        n = self.equity.shape[0]
        self.start = start
        if start >= n:
            return
        open_, low, mark, slip = self.open, self.low, self.mark, self.slip
        instrument = self.instrument
        symbol, minimum = instrument.symbol, instrument.min_notional
        rate = self.rate
        fee_factor = _ONE + rate
        factors, slip_pair = self.factors, self.slip_pair
        # The bars that ask for an entry (while flat) and for an exit (while long), ascending. What happens
        # after an entry decided at entry_bars[k] is known from the signals alone: it fills at the next bar
        # and is exited at the first exit signal from there on, unless the stop comes first. So everything
        # each candidate may read is gathered here in a few array operations, not bar by bar in the loop.
        entry_bars = np.flatnonzero(le[start:] | se[start:]) + start
        exit_bars = np.flatnonzero(lx[start:] | se[start:]) + start
        cand = _Candidates(entry_bars, exit_bars, n, self.open, self.slip, self.open_ms, low, mark, le | se)
        bars = entry_bars.tolist()
        n_entry = len(bars)
        find = bisect.bisect_left
        highest = np.maximum.reduce
        track = self.track_peak
        peak = self.peak
        record, at_row = self.fills.append, self.rows.append
        cash_after, held_after, trade_pnl = self.cash_after.append, self.held_after.append, self.trade_pnl.append
        entries = self.entries
        account = ReplayAccount()
        account.equity_at = self.equity_at
        account.equity_max = self.equity_max
        cash = self.cash
        cash_f = self.start_cash
        cost, realized, fees = self.cost, self.realized, self.fees
        held = self.quantity
        seq = wins = losses = 0
        win_sum = loss_sum = 0.0
        report_every = max(n // 100, 50_000)
        next_report = start + report_every
        i = start  # the next bar to replay; flat at its open
        pending: OrderRequest | None = None  # an entry decided at bar i - 1 ...
        k = 0  # ... by the candidate entry_bars[k]
        while True:
            if pending is not None:
                # -- the entry decided at the previous bar fills at this bar's open, or is rejected -------
                # (SimulatedBroker._quantity_for, _check_margin and _execute for a quote-sized spot buy)
                request, pending = pending, None
                reference = Decimal(repr(cand.fill_open[k]))  # the price as written
                s = cand.fill_slip[k]
                price = reference * (factors.get(s) or slip_pair(s))[0] if s else reference
                quantity = instrument.round_quantity((request.quote_quantity or _ZERO) / (price * fee_factor))
                reason = ""
                if quantity <= 0:
                    reason = rules.ZERO_QUANTITY
                else:
                    notional = price * quantity
                    if notional < minimum:
                        reason = rules.below_minimum(notional, minimum)
                    else:
                        entry_fee = notional * rate
                        if notional + entry_fee > cash:
                            reason = rules.insufficient_balance(notional + entry_fee, cash)
                if reason:
                    reject(i, reason)
                else:
                    # -- long from bar i: the next exit signal, and the stop's first touch up to it ------
                    record(
                        Fill(
                            request.client_order_id, symbol, _BUY, quantity, price, entry_fee, cand.fill_ms[k],
                            "taker", abs(price - reference) * quantity, "entry", request.client_order_id + "#1",
                            symbol.quote,
                        )
                    )  # fmt: skip
                    cash = cash - quantity * price - entry_fee
                    cost = _pos_add(cost, _pos_mul(quantity, price))
                    held = _pos_add(held, quantity)
                    fees = _pos_add(fees, entry_fee)
                    entry_price = price
                    order = seq
                    cash_f = float(cash)
                    qty = float(quantity)
                    at_row(i)
                    cash_after(cash_f)
                    held_after(qty)
                    stop = request.stop_loss
                    stop_f = float(stop) if stop is not None else math.nan
                    x, last = cand.exit_bar[k], cand.last[k]
                    hit = last + 1
                    if stop_f >= cand.lowest[k]:  # False for NaN: the stop is touched by bar `last`
                        touched = low[i:hit] <= stop_f
                        first = touched.argmax()  # the first True
                        if touched.item(first):
                            hit = i + int(first)
                    if hit <= last:
                        # The stop fills in bar `hit`, at the stop or at a worse open (a gap through it).
                        if track and hit > i:
                            peak = max(peak, float(highest(mark[i:hit])) * qty + cash_f)
                        exit_row, exit_order = hit, order
                        oid, tag = derived_id(request.client_order_id, STOP), "stop_loss"
                        reference = Decimal(repr(open_.item(hit)))
                        if stop is not None and stop < reference:
                            reference = stop
                        s = slip.item(hit)
                        exit_ms = cand.open_ms.item(hit)
                    else:
                        if track:
                            peak = max(peak, cand.highest[k] * qty + cash_f)
                        if x >= n:  # still long at the end
                            self.open_seq = order
                            break
                        # The exit signal at bar x: an exit order, and maybe the next entry, both for x + 1.
                        seq += 1
                        exit_order = seq
                        if cand.asks_entry[k]:
                            pending = decide(account.at(x, cash_f, qty, qty * mark.item(x), peak, seq))
                            if pending is not None:
                                seq += 1
                                entries[seq] = pending
                        exit_row = x + 1
                        if exit_row >= n:  # decided at the last bar: left for the next bar
                            self.open_seq = order
                            self.pending_exit = exit_order
                            self.pending_entry = seq if pending is not None else 0
                            break
                        oid, tag = exit_id(x), "exit"
                        reference = Decimal(repr(cand.exit_open[k]))
                        s = cand.exit_slip[k]
                        exit_ms = cand.exit_ms[k]
                        if pending is not None:  # decided at x, itself an entry candidate
                            k = find(bars, x, k)
                    # -- the exit fills (the whole position): flat from here ---------------------------
                    price = reference * (factors.get(s) or slip_pair(s))[1] if s else reference
                    notional = price * quantity
                    fee = notional * rate
                    record(
                        Fill(
                            oid, symbol, _SELL, quantity, price, fee, exit_ms, "taker",
                            abs(price - reference) * quantity, tag, oid + "#1", symbol.quote,
                        )
                    )  # fmt: skip
                    cash = cash + quantity * price - fee
                    realized = _pos_add(realized, _pos_sub(_pos_mul(quantity, price), cost))
                    cost = _pos_sub(cost, cost)
                    held = _pos_add(held, -quantity)
                    fees = _pos_add(fees, fee)
                    cash_f = float(cash)
                    at_row(exit_row)
                    cash_after(cash_f)
                    held_after(0.0)
                    # Engine._on_fill's trade PnL for a whole exit of one entry (its wins and losses).
                    net = float(quantity * (price - entry_price) - entry_fee - fee)
                    trade_pnl(net)
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
            k = find(bars, i, k)
            d = bars[k] if k < n_entry else n
            if track and cash_f > peak:
                peak = cash_f
            if d >= n:
                break
            pending = decide(account.at(d, cash_f, 0.0, 0.0, peak, seq))
            if pending is not None:
                seq += 1
                entries[seq] = pending
            i = d + 1
            if i >= n:
                if pending is not None:
                    self.pending_entry = seq
                break
        self.cash, self.quantity, self.cost, self.realized, self.fees = cash, held, cost, realized, fees
        self.seq = seq
        self.peak = peak
        self._write_marks(n)

    def equity_at(self, bar: int) -> float:
        """Equity at the close of ``bar`` (at or before the bar being decided; NaN before the start): what
        :meth:`run` writes there at the end."""
        if bar < self.start:
            return math.nan
        rows = self.rows
        k = len(rows) - 1  # the last fill at or before the bar: usually the last fill
        if k >= 0 and rows[k] > bar:
            k = bisect.bisect_right(rows, bar) - 1
        if k < 0:
            return self.start_cash
        held = self.held_after[k]
        cash = self.cash_after[k]
        return held * self.mark.item(bar) + cash if held else cash

    def equity_max(self, first: int, last: int) -> float:
        """The highest equity at the closes of bars ``first..last`` (at or before the bar being decided): the
        highest of what :meth:`run` writes there. Long only, so between two fills the highest mark gives it
        (``x * held + cash`` is monotone in ``x``, rounding included)."""
        first = max(first, self.start)
        if first > last:
            return math.nan
        rows, held_after, cash_after, mark = self.rows, self.held_after, self.cash_after, self.mark
        k = bisect.bisect_right(rows, first) - 1  # the last fill at or before `first` (-1: none yet)
        best = -math.inf
        a = first
        while a <= last:
            b = rows[k + 1] - 1 if k + 1 < len(rows) else last  # the bars before the next fill
            b = min(b, last)
            if b >= a:
                held = held_after[k] if k >= 0 else 0.0
                cash = cash_after[k] if k >= 0 else self.start_cash
                value = float(np.maximum.reduce(mark[a : b + 1])) * held + cash if held else cash
                best = max(best, value)
                a = b + 1
            k += 1
        return best

    def _write_marks(self, n: int) -> None:
        """Equity and gross exposure / equity at each close (NaN where equity is not positive), from the
        quantity held and the cash between fills: the same float operations as marking bar by bar."""
        start = self.start
        bounds: IntArray = np.array([start, *self.rows, n], dtype=np.int64)
        lengths = bounds[1:] - bounds[:-1]
        held = np.repeat(np.array([0.0, *self.held_after]), lengths)
        cash = np.repeat(np.array([self.start_cash, *self.cash_after]), lengths)
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


class _Candidates:
    """What an entry decided at each candidate bar ``entry_bars[k]`` will read, as plain lists: its fill bar's
    open, slippage and time; its exit signal bar (``n``: none), the last bar it can be held (``last``), the
    lowest low and the highest mark from the fill bar to ``last``; whether the exit bar asks for an entry too;
    the exit fill bar's open, slippage and time."""

    __slots__ = (
        "asks_entry", "exit_bar", "exit_ms", "exit_open", "exit_slip", "fill_ms", "fill_open", "fill_slip", "highest",
        "last", "lowest", "open_ms",
    )  # fmt: skip

    def __init__(
        self, entry_bars: IntArray, exit_bars: IntArray, n: int, open_: FloatArray, slip: FloatArray,
        open_ms: IntArray, low: FloatArray, mark: FloatArray, asks_entry: np.ndarray,
    ) -> None:  # fmt: skip
        self.open_ms = open_ms
        fill = np.minimum(entry_bars + 1, n - 1)  # a candidate at the last bar never fills (clipped, unread)
        found = np.searchsorted(exit_bars, fill)
        exit_bar = np.full(entry_bars.size, n, dtype=np.int64)
        has_exit = found < exit_bars.size
        exit_bar[has_exit] = exit_bars[found[has_exit]]
        last = np.minimum(exit_bar, n - 1)
        # The stop search is skipped when no low up to `last` reaches the stop (fmin ignores NaN lows).
        self.lowest = reduce_spans(np.fmin, low, fill, last).tolist()
        self.highest = reduce_spans(np.maximum, mark, fill, last).tolist()
        self.fill_open, self.fill_slip, self.fill_ms = (a[fill].tolist() for a in (open_, slip, open_ms))
        after = np.minimum(exit_bar + 1, n - 1)
        self.exit_open, self.exit_slip, self.exit_ms = (a[after].tolist() for a in (open_, slip, open_ms))
        self.asks_entry = asks_entry[last].tolist()
        self.exit_bar, self.last = exit_bar.tolist(), last.tolist()
