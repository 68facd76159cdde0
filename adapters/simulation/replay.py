"""The compiled replay kernel: the simulated venue and the engine's per-bar bookkeeping for one symbol, in
one loop over plain arrays, compiled by numba.

The kernel applies the same rules as :class:`SimulatedBroker` (market orders at the next bar's open moved
by the slippage, quote-sized buys that pay the fee out of the amount, a stop-loss attached at the entry
fill that can trigger in that bar and fills at the stop or at a worse open, taker fees, the step size,
the exchange minimum and the cash check) and as ``Engine.process_bar`` (marking equity and exposure at
each close, the peak, exits on ``long_exit``/``short_entry`` while long). It hands control back to
Python for every entry decision, so sizing and risk checks stay the domain's code, and for nothing else.
Arithmetic is in float64 (quantities are whole numbers of steps); the Decimal fills are built from it.
``docs/adr/0003-backtest-speed.md`` (fifth step) says which runs take this path and why.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

# Slots of the state vector (float64) shared by the kernel and its driver.
CASH, STEPS, ENTRY_PX, ENTRY_FEE, ENTRY_SLIP, ENTRY_ROW, STOP, PEAK = range(8)
BAR, END, NFILLS, PEND_EXIT, PEND_ENTRY, ENTRY_QUOTE, ENTRY_STOP = range(8, 15)
SEQ, EXIT_SEQ, ENTRY_SEQ, OPEN_SEQ = range(15, 19)
WINS, LOSSES, WIN_SUM, LOSS_SUM = range(19, 23)
REJ_CODE, REJ_BAR, REJ_A, REJ_B = range(23, 27)
DEC_BAR, DEC_EQUITY, DEC_GROSS = range(27, 30)
FEE, STEP, MIN_NOTIONAL, TRACK_PEAK, INV_STEP = range(30, 35)
STATE_SIZE = 35

# Fill kinds, and what the kernel returns.
ENTRY, EXIT, STOP_LOSS = 0, 1, 2
DONE, DECIDE, FULL = 0, 1, 2
# Rejection codes (the entry could not fill): the same three reasons as the broker's.
REJ_ZERO, REJ_NOTIONAL, REJ_BALANCE = 1, 2, 3
# Columns of the fill table (int64): bar, kind, the order's number, quantity in steps. Prices, fees and
# slippage are not kept: the broker recomputes them in decimals from the bar and the order.
I_ROW, I_KIND, I_SEQ, I_STEPS = range(4)


def quantity(st: Any, steps: float) -> float:
    """``steps`` x the step size, correctly rounded when the step is 1/integer (0.001, 0.00001 ...), as
    ``float(Decimal)`` of the exact quantity is."""
    inv = st[INV_STEP]
    return steps / inv if inv > 0 else steps * st[STEP]


def _close_trade(st: Any, price: float, fee: float) -> None:
    qty = quantity(st, st[STEPS])
    net = qty * (price - st[ENTRY_PX]) - st[ENTRY_FEE] - fee
    if net > 0:
        st[WINS] += 1.0
        st[WIN_SUM] += net
    elif net < 0:
        st[LOSSES] += 1.0
        st[LOSS_SUM] -= net
    st[STEPS] = 0.0
    st[STOP] = math.nan


def _record(fi: Any, st: Any, row: int, kind: int, seq: float, steps: float) -> None:
    k = int(st[NFILLS])
    fi[k, I_ROW] = row
    fi[k, I_KIND] = kind
    fi[k, I_SEQ] = int(seq)
    fi[k, I_STEPS] = int(steps)
    st[NFILLS] = k + 1


def replay_kernel(
    open_: Any, low: Any, mark: Any, slip: Any, le: Any, lx: Any, se: Any, sx: Any,
    equity: Any, exposure: Any, st: Any, fi: Any,
) -> int:  # fmt: skip
    """Run bars ``st[BAR] .. st[END]``; return ``DECIDE`` at a bar that asks for an entry (after its exit,
    if any, was decided), ``FULL`` when the fill table needs room, ``DONE`` at the end. Every bar is
    tradable (the driver checks)."""
    fee = st[FEE]
    step = st[STEP]
    inv_step = st[INV_STEP]
    min_notional = st[MIN_NOTIONAL]
    track = st[TRACK_PEAK] > 0
    cap = fi.shape[0]
    n = int(st[END])
    i = int(st[BAR])
    while i < n:
        if st[NFILLS] + 3 > cap:
            st[BAR] = i
            return FULL
        # 1. Fills during bar i: market orders in submission order (an exit is decided before an entry),
        #    then the resting stop (attached at an entry fill, so it can trigger in that bar).
        s = slip[i]
        if st[PEND_EXIT] > 0:
            st[PEND_EXIT] = 0.0
            if st[STEPS] > 0:  # else: a reduce-only order with nothing to reduce is canceled
                ref = open_[i]
                price = ref * (1.0 - s)
                qty = quantity(st, st[STEPS])
                f = price * qty * fee
                st[CASH] = st[CASH] + qty * price - f
                _record(fi, st, i, EXIT, st[EXIT_SEQ], st[STEPS])
                _close_trade(st, price, f)
        if st[PEND_ENTRY] > 0:
            st[PEND_ENTRY] = 0.0
            ref = open_[i]
            price = ref * (1.0 + s)
            amount = st[ENTRY_QUOTE] / (price * (1.0 + fee))
            steps = math.floor(amount * inv_step if inv_step > 0 else amount / step)
            qty = quantity(st, steps)
            notional = price * qty
            f = notional * fee
            if steps <= 0:
                st[REJ_CODE] = REJ_ZERO
            elif notional < min_notional:
                st[REJ_CODE] = REJ_NOTIONAL
                st[REJ_A] = notional
            elif notional + f > st[CASH]:
                st[REJ_CODE] = REJ_BALANCE
                st[REJ_A] = notional + f
                st[REJ_B] = st[CASH]
            else:
                st[CASH] = st[CASH] - notional - f
                st[STEPS] = steps
                st[ENTRY_PX] = price
                st[ENTRY_FEE] = f
                st[ENTRY_ROW] = i
                st[OPEN_SEQ] = st[ENTRY_SEQ]
                st[STOP] = st[ENTRY_STOP]
                _record(fi, st, i, ENTRY, st[ENTRY_SEQ], steps)
            if st[REJ_CODE] != 0:
                st[REJ_BAR] = i
        level = st[STOP]
        if st[STEPS] > 0 and low[i] <= level:  # False for a NaN level (no stop)
            ref = min(open_[i], level)  # a gap through the stop fills at the worse open
            price = ref * (1.0 - s)
            qty = quantity(st, st[STEPS])
            f = price * qty * fee
            st[CASH] = st[CASH] + qty * price - f
            _record(fi, st, i, STOP_LOSS, st[OPEN_SEQ], st[STEPS])
            _close_trade(st, price, f)
        # 2. Mark at the close (the same operations as Engine._mark).
        cash = st[CASH]
        if st[STEPS] > 0:
            value = quantity(st, st[STEPS]) * mark[i]
            eq = cash + value
            gross = abs(value)
        else:
            eq = cash
            gross = 0.0
        equity[i] = eq
        exposure[i] = gross / eq if eq > 0 else math.nan
        if track and eq > st[PEAK]:
            st[PEAK] = eq
        # 3. Decide (the rules of Engine._decide for a long-only account with one entry per position).
        if le[i] or lx[i] or se[i] or sx[i]:
            flat_after = st[STEPS] == 0
            if st[STEPS] > 0 and (lx[i] or se[i]):
                st[SEQ] += 1.0
                st[EXIT_SEQ] = st[SEQ]
                st[PEND_EXIT] = 1.0
                flat_after = True
            if flat_after and (le[i] or se[i]):
                st[DEC_BAR] = i
                st[DEC_EQUITY] = eq
                st[DEC_GROSS] = gross
                st[BAR] = i + 1
                return DECIDE
        i += 1
    st[BAR] = n
    return DONE


@functools.cache
def compiled_kernel() -> Callable[..., int] | None:
    """The kernel compiled by numba (compiled on first call, cached on disk), or None without numba."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a core dependency
        return None
    jit = numba.njit(cache=True, nogil=True)
    # The kernel calls its helpers through the module's globals: compiled versions replace them first.
    globals()["quantity"] = jit(quantity)
    globals()["_close_trade"] = jit(_close_trade)
    globals()["_record"] = jit(_record)
    kernel: Callable[..., int] = jit(replay_kernel)
    return kernel


def new_state(cash: float, fee: float, step: float, inv_step: float, min_notional: float, start: int, end: int,
              track_peak: bool, peak: float) -> np.ndarray:  # fmt: skip
    """A fresh state vector. ``inv_step``: 1 / step when that is a whole number (else 0)."""
    st = np.zeros(STATE_SIZE)
    st[CASH] = cash
    st[ENTRY_PX] = st[ENTRY_STOP] = st[STOP] = math.nan
    st[PEAK] = peak
    st[BAR] = start
    st[END] = end
    st[FEE] = fee
    st[STEP] = step
    st[INV_STEP] = inv_step
    st[MIN_NOTIONAL] = min_notional
    st[TRACK_PEAK] = 1.0 if track_peak else 0.0
    return st
