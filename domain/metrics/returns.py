"""Return and risk metrics of an equity curve and of its per-bar returns.

Every function is vectorised, pure and total: where a figure is undefined (too few points, no dispersion,
a division by zero) it returns NaN instead of raising or warning. The conventions are empyrical's
(checked against it in the tests) unless a docstring says otherwise:

* ``equity`` is marked once per bar; per-bar returns are simple returns (see :func:`returns_of`);
* the risk-free rate and the Sortino target are 0;
* ``periods_per_year`` is the number of bars in a 365-day year for the timeframe;
* drawdowns are negative fractions of the running peak;
* standard deviations are sample ones (ddof=1), higher moments are biased ones (``scipy.stats`` defaults).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from domain.model.candles import FloatArray, IntArray

DAY_MS = 86_400_000
NAN = math.nan


def _as_float(x: FloatArray) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def returns_of(equity: FloatArray) -> FloatArray:
    """Simple per-bar returns of an equity curve (length ``len(equity) - 1``).

    After the equity has reached zero or less (ruin) nothing is left at stake, so a bar whose previous mark
    is not positive counts as a zero return instead of a division by zero; on a curve that stays at zero
    after ruin the returns still compound to the curve (the bar that hits zero returns -100 %).
    """
    e = _as_float(equity)
    if e.size < 2:
        return np.empty(0, dtype=np.float64)
    prev = e[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e[1:] / prev
    r -= 1.0  # in place: long curves get one temporary, not three
    ruined = ~(prev > 0.0)
    if ruined.any():
        r[ruined] = 0.0
    return r


def total_return(equity: FloatArray) -> float:
    """Last mark over the first, minus one (NaN for an empty curve or a non-positive start)."""
    e = _as_float(equity)
    if e.size == 0 or not e[0] > 0:
        return NAN
    return float(e[-1] / e[0] - 1.0)


def annualized_return(returns: FloatArray, periods_per_year: float) -> float:
    """Arithmetic annualised return: mean per-bar return x bars per year (no compounding).

    This is the numerator of the Sortino ratio; the compounded figure is :func:`cagr`.
    """
    r = _as_float(returns)
    if r.size == 0:
        return NAN
    return float(np.mean(r) * periods_per_year)


def cagr(equity: FloatArray, periods_per_year: float) -> float:
    """Compound annual growth rate over ``len(equity) - 1`` bars (empyrical's ``annual_return``).

    -1 once the curve ends at or below zero; NaN with fewer than two marks; +inf when it overflows
    (a large gain over a few bars of a short timeframe).
    """
    e = _as_float(equity)
    periods = e.size - 1
    if periods <= 0 or not e[0] > 0:
        return NAN
    ratio = float(e[-1] / e[0])
    if math.isnan(ratio):
        return NAN
    if ratio <= 0:
        return -1.0
    with np.errstate(over="ignore"):
        return float(np.power(np.float64(ratio), periods_per_year / periods) - 1.0)


def annual_volatility(returns: FloatArray, periods_per_year: float) -> float:
    """Sample standard deviation of per-bar returns x sqrt(bars per year); NaN with fewer than two returns."""
    r = _as_float(returns)
    if r.size < 2:
        return NAN
    return float(np.std(r, ddof=1) * math.sqrt(periods_per_year))


def _constant(r: FloatArray) -> bool:
    # The sample deviation of identical values can come out as ~1e-18 instead of 0 (the mean is off in
    # the last bit), which would turn "undefined" into a meaningless 1e15; empyrical guards the same way.
    return bool(np.max(r) == np.min(r))


def sharpe_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Mean over sample standard deviation of returns, annualised (risk-free rate 0).

    NaN with fewer than two returns or without dispersion (a flat curve); empyrical gives +-inf for a
    constant non-zero return, we give NaN.
    """
    r = _as_float(returns)
    if r.size < 2 or _constant(r):
        return NAN
    sd = float(np.std(r, ddof=1))
    if not sd > 0:
        return NAN
    return float(np.mean(r) / sd * math.sqrt(periods_per_year))


def downside_deviation(returns: FloatArray, periods_per_year: float) -> float:
    """Root mean square of the negative returns over all bars (target 0), annualised."""
    r = _as_float(returns)
    if r.size == 0:
        return NAN
    below = np.minimum(r, 0.0)
    return float(np.sqrt(np.mean(below * below)) * math.sqrt(periods_per_year))


def sortino_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Arithmetic annualised return over annualised downside deviation (target 0, over all periods).

    NaN with fewer than two returns or without a losing bar (empyrical gives +inf there).
    """
    r = _as_float(returns)
    if r.size < 2:
        return NAN
    downside = downside_deviation(r, periods_per_year)
    if not downside > 0:
        return NAN
    return float(np.mean(r) * periods_per_year / downside)


def running_peak(equity: FloatArray) -> FloatArray:
    """The highest mark so far at each mark (the drawdown functions accept it precomputed as ``peak``)."""
    return np.maximum.accumulate(_as_float(equity))


def drawdown_series(equity: FloatArray, peak: FloatArray | None = None) -> FloatArray:
    """Each mark's fall from the running peak, as a fraction (0 at a peak, -0.2 20 % below it)."""
    e = _as_float(equity)
    dd = np.maximum.accumulate(e) if peak is None else peak.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(e, dd, out=dd)
    dd -= 1.0
    return dd


def max_drawdown(equity: FloatArray, drawdown: FloatArray | None = None) -> float:
    """Deepest fall from a running peak, as a negative fraction (0 when equity never fell; NaN if empty).
    ``drawdown``: :func:`drawdown_series` of ``equity``, when the caller has it."""
    e = _as_float(equity)
    if e.size == 0:
        return NAN
    return float(np.min(drawdown_series(e) if drawdown is None else drawdown))


def current_drawdown(equity: FloatArray) -> float:
    """How far the last mark is below the highest mark so far, as a negative fraction (0 at a high)."""
    e = _as_float(equity)
    if e.size == 0:
        return NAN
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(e[-1] / np.max(e) - 1.0)


def max_drawdown_duration(
    equity: FloatArray, periods_per_year: float, open_time: IntArray | None = None, peak: FloatArray | None = None
) -> float:
    """Longest time spent below a previous peak, in days.

    A drawdown lasts from the last mark at the peak to the first mark back at or above it (or to the last
    mark when it has not recovered). Times are ``open_time`` (UTC ms of each mark; gaps count) when given,
    else bars x ``365 / periods_per_year`` days. 0 when equity never fell; NaN for an empty curve.
    """
    e = _as_float(equity)
    n = e.size
    if n == 0:
        return NAN
    under = e < (np.maximum.accumulate(e) if peak is None else peak)
    if not under.any():
        return 0.0
    # Each run of marks under water starts after its peak (the last mark not under) and ends at the first
    # mark back at or above it, or at the last mark; times only grow, so a run's length is end - start.
    step = np.diff(under.view(np.int8))
    start = np.flatnonzero(step == 1)  # the peak before each run (the first mark is never under)
    end = np.flatnonzero(step == -1) + 1
    if under[-1]:
        end = np.append(end, n - 1)
    if open_time is not None:
        t = np.asarray(open_time, dtype=np.int64)
        return float(np.max(t[end] - t[start])) / DAY_MS
    return float(np.max(end - start)) * 365.0 / periods_per_year


def ulcer_index(equity: FloatArray, drawdown: FloatArray | None = None) -> float:
    """Root mean square of the drawdown over every mark (Peter Martin's ulcer index), as a FRACTION.

    Martin states it in percent points: multiply by 100 for that (0.05 here is an ulcer index of 5).
    """
    e = _as_float(equity)
    if e.size == 0:
        return NAN
    dd = drawdown_series(e) if drawdown is None else drawdown
    return float(np.sqrt(np.dot(dd, dd) / dd.size))


def recovery_factor(equity: FloatArray, peak: FloatArray | None = None) -> float:
    """Net profit over the largest fall from a peak, both in the quote currency (NaN if it never fell)."""
    e = _as_float(equity)
    if e.size == 0:
        return NAN
    worst = float(np.max((np.maximum.accumulate(e) if peak is None else peak) - e))
    if not worst > 0:
        return NAN
    return float(e[-1] - e[0]) / worst


def calmar_ratio(equity: FloatArray, periods_per_year: float, drawdown: FloatArray | None = None) -> float:
    """CAGR over the absolute maximum drawdown (empyrical); NaN without a drawdown or when infinite."""
    mdd = max_drawdown(equity, drawdown)
    if not mdd < 0:
        return NAN
    ratio = cagr(equity, periods_per_year) / abs(mdd)
    return ratio if math.isfinite(ratio) else NAN


def value_at_risk(returns: FloatArray, cutoff: float = 0.05) -> float:
    """Historical VaR: the ``cutoff`` percentile of per-bar returns (linear interpolation), e.g. -0.03."""
    return percentiles(returns, (100.0 * cutoff,))[0]


def tails(returns: FloatArray) -> tuple[float, float]:
    """The 5th and 95th percentiles of per-bar returns (linear interpolation), from one partial sort: VaR 95
    is the first, :func:`tail_ratio` is ``|95th| / |5th|``."""
    low, high = percentiles(returns, (5.0, 95.0))
    return low, high


def percentiles(values: FloatArray, percents: tuple[float, ...]) -> list[float]:
    """``np.percentile(values, percents)`` (its default linear method), float for float, from a partial
    sort that places only the lower neighbour of each percentile (``np.percentile`` places both neighbours,
    the minimum and the maximum at once, which costs about ten times more on a million values). NaN in,
    NaN out."""
    r = _as_float(values)
    n = r.size
    if n == 0:
        return [NAN] * len(percents)
    neighbours: list[tuple[int, int, float]] = []
    for p in percents:
        virtual = (n - 1) * (p / 100.0)  # numpy's virtual index for its linear method
        if virtual >= n - 1:  # numpy reads index -1 twice here (its weight is then irrelevant unless inf)
            neighbours.append((n - 1, n - 1, virtual + 1))
        elif virtual < 0:
            neighbours.append((0, 0, virtual))
        else:
            below = math.floor(virtual)
            neighbours.append((below, below + 1, virtual - below))
    # Place the lower neighbours only; each upper one is the smallest value between its lower one and the
    # next placed index (every partitioned stretch holds the order statistics between its ends).
    kth = sorted({below for below, _, _ in neighbours})
    # One index at a time, each in the stretch after the previous one (numpy's partition with several
    # indices at once is about ten times slower than this on a million values).
    part = np.partition(r, kth[0])
    for previous, k in itertools.pairwise(kth):
        part[previous + 1 :].partition(k - previous - 1)
    if math.isnan(float(np.max(part[kth[-1] :]))):  # NaN sorts last
        return [NAN] * len(percents)
    placed = set(kth)
    out = []
    for below, above, gamma in neighbours:
        a = part.item(below)
        if above == below or above in placed:
            b = part.item(above)
        else:
            end = next((k for k in kth if k > below), n)
            b = float(np.min(part[above:end]))
        diff = b - a  # numpy's _lerp
        out.append(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)
    return out


def conditional_value_at_risk(returns: FloatArray, cutoff: float = 0.05) -> float:
    """Historical CVaR (expected shortfall): the mean of the worst ``floor((n - 1) * cutoff) + 1`` returns."""
    r = _as_float(returns)
    if r.size == 0:
        return NAN
    k = int((r.size - 1) * cutoff)
    return float(np.mean(np.partition(r, k)[: k + 1]))


def tail_ratio(returns: FloatArray) -> float:
    """|95th percentile| over |5th percentile| of per-bar returns; NaN when the 5th percentile is 0."""
    r = _as_float(returns)
    if r.size == 0:
        return NAN
    return tail_ratio_of(*tails(r))


def tail_ratio_of(low: float, high: float) -> float:
    """:func:`tail_ratio` from the 5th and 95th percentiles (:func:`tails`)."""
    left = abs(low)
    if not left > 0:
        return NAN
    return abs(high) / left


def _central_moments(r: FloatArray) -> tuple[float, float, float, float] | None:
    """Mean and the biased 2nd, 3rd and 4th central moments; None when there is no dispersion."""
    if r.size == 0:
        return None
    mean = float(np.mean(r))
    d = r - mean
    d2 = d * d
    m2 = float(np.mean(d2))
    # scipy's test for "all values equal up to rounding"
    if m2 <= (float(np.finfo(np.float64).eps) * mean) ** 2:
        return None
    np.multiply(d, d2, out=d)  # d now holds d^3 (in place: long series get two temporaries, not four)
    m3 = float(np.mean(d))
    np.multiply(d2, d2, out=d2)
    return mean, m2, m3, float(np.mean(d2))


def skewness(returns: FloatArray) -> float:
    """Biased sample skewness m3 / m2^1.5 (``scipy.stats.skew``, bias=True); NaN without dispersion."""
    return shape_of(returns)[0]


def excess_kurtosis(returns: FloatArray) -> float:
    """Biased excess kurtosis m4 / m2^2 - 3 (``scipy.stats.kurtosis``, fisher=True, bias=True)."""
    return shape_of(returns)[1]


def shape_of(returns: FloatArray) -> tuple[float, float]:
    """:func:`skewness` and :func:`excess_kurtosis` from one pass over the returns."""
    moments = _central_moments(_as_float(returns))
    if moments is None:
        return NAN, NAN
    _, m2, m3, m4 = moments
    return m3 / float(m2**1.5), m4 / (m2 * m2) - 3.0


def alpha_beta(returns: FloatArray, benchmark_returns: FloatArray, periods_per_year: float) -> tuple[float, float]:
    """Jensen's alpha (annualised by compounding the mean per-bar alpha) and beta against a benchmark.

    As empyrical's ``alpha_beta`` with a risk-free rate of 0: beta = cov(r, b) / var(b) (population
    moments), alpha = (1 + mean(r - beta * b)) ** periods_per_year - 1. NaN for both with fewer than two
    returns, series of different lengths, or a benchmark without variance.
    """
    r = _as_float(returns)
    b = _as_float(benchmark_returns)
    if r.size < 2 or r.shape != b.shape:
        return NAN, NAN
    b_res = b - np.mean(b)
    work = b_res * b_res  # one scratch array, reused in place for each product
    var = float(np.mean(work))
    if not var >= 1e-30:
        return NAN, NAN
    np.multiply(b_res, r, out=work)
    beta = float(np.mean(work)) / var
    np.multiply(b, beta, out=work)
    np.subtract(r, work, out=work)
    with np.errstate(over="ignore", invalid="ignore"):
        alpha = float(np.power(np.mean(work) + 1.0, periods_per_year) - 1.0)
    return alpha, beta


def buy_and_hold_return(close: FloatArray) -> float:
    """Return of holding the asset from the first close to the last (no fees); NaN if empty."""
    c = _as_float(close)
    if c.size == 0 or not c[0] > 0:
        return NAN
    return float(c[-1] / c[0] - 1.0)
