"""Exchange rules read off the candles, for a symbol whose rules are not known (docs/instruments.md).

The rules, each computed on the whole history with numpy:

- **tick size**: the finest decimal resolution present in the prices. It is ``10**-d`` for the smallest ``d``
  such that every open, high, low and close is a multiple of ``10**-d`` (to float precision: a residual
  below ``1e-9`` of a tick or 20 units in the last place counts as none, so ``0.1 + 0.2`` is read as
  ``0.3``). Prices written by an exchange carry its tick (Binance writes ``0.00001234`` for SHIB), so this
  recovers it, or a finer power of ten when the tick is not a power of ten. Prices with more than
  12 significant digits (computed floats, not quotes) have no such resolution: the tick is then the
  power of ten 8 digits below the lowest price's leading digit (``1e-8`` relative at most).
- **step size**: the finest decimal resolution present in the volume column (a volume is a sum of
  quantities, each a multiple of the step), capped so that one step at the median close is worth at most
  one unit of the quote currency (:data:`MAX_STEP_VALUE`); with no volume resolution (all zero, or
  computed floats) the cap alone decides.
- **minimum notional**: not visible in candles; :func:`default_min_notional` (5 in a dollar-like quote, as
  on Binance's USDT pairs; 0 otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from domain.model.symbols import Instrument, Symbol

FloatArray = npt.NDArray[np.float64]

MAX_SIGNIFICANT_DIGITS = 12  # beyond this a price is a computed float, not a quote
FALLBACK_DIGITS = 8  # the fallback tick: this many digits below the lowest price's leading digit
MAX_STEP_VALUE = 1.0  # one step at the median close is worth at most this much quote currency
DOLLAR_QUOTES = frozenset({"USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "DAI", "EUR", "GBP"})
DEFAULT_MIN_NOTIONAL = Decimal(5)
_SAMPLE = 4096
_CHUNK = 1 << 15
_ULPS = 20 * float(np.finfo(np.float64).eps)  # float noise allowed around a multiple, relative


@dataclass(frozen=True, slots=True)
class InferredRules:
    """Rules inferred from candles, and how each was found (a short phrase per rule, for people)."""

    instrument: Instrument
    tick_from: str
    step_from: str
    min_notional_from: str


def decimal_resolution(values: npt.ArrayLike) -> int | None:
    """The smallest ``d`` such that every finite non-zero value is a multiple of ``10**-d`` (``d`` may be
    negative: 2500 and 7500 give -2), or ``None`` when that needs more than
    :data:`MAX_SIGNIFICANT_DIGITS` significant digits, or when there is no finite non-zero value."""
    x = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = _extremes(x)
    if hi == 0.0:
        return None
    d_max = MAX_SIGNIFICANT_DIGITS - (math.floor(math.log10(hi)) + 1)
    d = -math.floor(math.log10(lo))  # no tick is coarser than the smallest value
    if x.size > _SAMPLE:
        # The sample needs no less resolution than the whole: start the full check where it stops.
        found = _resolution_from(x[:: x.size // _SAMPLE], d, d_max)
        if found is None:
            return None
        d = found
    return _resolution_from(x, d, d_max)


def _valid(chunk: FloatArray) -> FloatArray:
    c = np.abs(chunk)
    return c[np.isfinite(c) & (c > 0)]


def _extremes(x: FloatArray) -> tuple[float, float]:
    """The smallest and largest finite non-zero magnitude in ``x`` (``inf, 0`` when there is none)."""
    lo, hi = math.inf, 0.0
    for k in range(0, x.size, _CHUNK):
        c = _valid(x[k : k + _CHUNK])
        if c.size:
            lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
    return lo, hi


def _resolution_from(x: FloatArray, d: int, d_max: int) -> int | None:
    """Check ``d``, ``d + 1`` ... up to ``d_max``. Chunk by chunk (the temporaries stay in the cache), and
    each pass keeps only the values that failed: a multiple of ``10**-d`` is one of every finer power."""
    valid = False  # x holds only finite non-zero magnitudes
    while d <= d_max:
        scale = 10.0 ** abs(d)
        failing = []
        for k in range(0, x.size, _CHUNK):
            c = x[k : k + _CHUNK]
            if not valid:
                c = _valid(c)
            scaled = c * scale if d >= 0 else c / scale
            off = np.abs(scaled - np.rint(scaled)) > np.maximum(1e-9, scaled * _ULPS)
            if off.any():
                failing.append(c[off])
        if not failing:
            return d
        x = np.concatenate(failing)
        valid = True
        d += 1
    return None


def default_min_notional(symbol: Symbol) -> Decimal:
    """5 in a dollar-like quote currency (Binance's minimum on USDT pairs), else 0 (unknown)."""
    return DEFAULT_MIN_NOTIONAL if symbol.quote in DOLLAR_QUOTES else Decimal(0)


def _power_of_ten(exponent: int) -> Decimal:
    return Decimal(1).scaleb(exponent)


def infer_instrument(
    symbol: Symbol,
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
) -> InferredRules:
    """Tick size, step size and minimum notional for ``symbol`` from its candles (see the module docstring).
    NaN marks a missing bar and is ignored."""
    columns = [np.asarray(a, dtype=np.float64).ravel() for a in (open_, high, low, close)]
    columns = [c for c in columns if _extremes(c)[1] > 0]  # a column of NaN says nothing
    if not columns:
        raise ValueError(f"{symbol}: no positive prices to infer the exchange rules from")
    lowest = min(_extremes(c)[0] for c in columns)
    found = [decimal_resolution(c) for c in columns]  # column by column: no 4 x n copy
    if all(d is not None for d in found):
        tick = _power_of_ten(-max(d for d in found if d is not None))
        tick_from = "finest price increment in the candles"
    else:
        tick = _power_of_ten(math.floor(math.log10(lowest)) - FALLBACK_DIGITS)
        tick_from = f"prices carry no decimal resolution: {FALLBACK_DIGITS} digits below the lowest price"
    closes = _valid(np.asarray(close, dtype=np.float64).ravel())
    median = float(np.median(closes)) if closes.size else lowest
    cap = math.floor(math.log10(MAX_STEP_VALUE / median))  # 10**cap x median <= MAX_STEP_VALUE
    dv = decimal_resolution(volume)
    if dv is not None and -dv <= cap:
        step = _power_of_ten(-dv)
        step_from = "finest volume increment in the candles"
    else:
        step = _power_of_ten(cap)
        why = "volume carries no decimal resolution" if dv is None else "the volume increment is coarser"
        step_from = f"{why}: one step at the median close is worth at most {MAX_STEP_VALUE:g} {symbol.quote}"
    minimum = default_min_notional(symbol)
    notional_from = f"default for {symbol.quote} quotes" if minimum else f"unknown for {symbol.quote} quotes: none"
    return InferredRules(Instrument(symbol, tick, step, minimum), tick_from, step_from, notional_from)
