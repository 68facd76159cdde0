"""The causality checks of a strategy (docs/strategy-checks.md, docs/adr/0021-strategy-checks.md).

Three checks, each returning a :class:`CheckResult` (the failing bars, their open times, counts):

- **look-ahead** (:func:`lookahead_check`): decisions at bars ``<= t`` must not change when the bars after
  ``t`` are replaced (reversed, shuffled, or multiplied by a spike), the predictions and sentiment after ``t``
  with them;
- **prefix** (:func:`prefix_check`): the decision at ``t = end - 1`` computed on ``candles[:end]`` equals the
  one computed on the whole history (the recursive check);
- **history** (:func:`history_check`): the decision at ``t`` computed on the trailing window of
  ``history_bars`` bars equals the whole-history decision, on every bar the window fits.

A predictive strategy (one with a ``model_type``) is checked with predictions aligned to the candles: given
ones, else seeded synthetic ones (:func:`domain.strategies.ml.synthetic_predictions`). A cut or window of the
candles gets the same cut of the context, so a strategy that read ``predictions[t + 1]`` at bar ``t`` is
caught like one that read ``close[t + 1]``.

:data:`FAST` (a backtest's gate) and :data:`FULL` (``atb strategies check``) say how much of the data each
check covers; every choice of bars is deterministic, so a check prints the same bars each time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from domain.model.candles import BoolArray, CandleSeries, FloatArray
from domain.regime.detector import RegimeSeries
from domain.strategies.base import Signals
from domain.strategies.ml import synthetic_predictions
from domain.strategies.strategy import Context, Strategy

LOOKAHEAD = "look-ahead"
PREFIX = "prefix"
HISTORY = "history"
CHECKS = (LOOKAHEAD, PREFIX, HISTORY)

FLOAT_RTOL = 1e-9
"""The history check's tolerance on a decision's numbers (stop distance, size, confidence, ATR): a window's
indicators converge to the whole history's in value, not always to the last bit. Entries and exits (booleans)
must agree exactly; the look-ahead and prefix checks compare every field exactly."""

SHOWN = 5  # failing bars a result keeps (the first ones)
PERTURBATIONS = ("reverse", "shuffle", "spike", "crash")


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """How much of the data each check covers.

    ``bars``: the checks run on the last ``history_bars + bars`` bars of each series (None: all of them);
    ``prefix_ends``: prefixes compared; ``cuts``: bars after which the future is replaced (each with every
    perturbation); ``windows``: bars checked on a trailing window of exactly ``history_bars``; besides those,
    every bar is checked on a window of ``history_bars`` to ``history_bars + history_bars // blocks`` bars.
    """

    name: str
    bars: int | None
    prefix_ends: int
    cuts: int
    windows: int
    blocks: int = 4


FAST = CheckPlan("fast", bars=3000, prefix_ends=40, cuts=2, windows=40)
FULL = CheckPlan("full", bars=None, prefix_ends=200, cuts=24, windows=400)
PLANS = {p.name: p for p in (FAST, FULL)}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check on one series: ``checked`` decisions compared (look-ahead: bars up to each cut, for each cut and
    perturbation; prefix: prefixes; history: bars), ``failed`` bars whose decision differed, the first ones
    (``bars``: indexes into the series; ``times``: their open times, UTC ms); ``detail`` says how (the
    perturbations, the windows) or why nothing could be checked."""

    check: str
    checked: int
    failed: int
    bars: tuple[int, ...] = ()
    times: tuple[int, ...] = ()
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, object]:
        return {
            "check": self.check, "checked": self.checked, "failed": self.failed, "bars": list(self.bars),
            "times": list(self.times), "detail": self.detail, "passed": self.passed,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CheckResult:
        bars = data.get("bars", [])
        times = data.get("times", [])
        return cls(
            str(data["check"]), int(str(data["checked"])), int(str(data["failed"])),
            tuple(int(b) for b in bars) if isinstance(bars, list) else (),
            tuple(int(t) for t in times) if isinstance(times, list) else (), str(data.get("detail", "")),
        )  # fmt: skip


# -- comparing decisions --------------------------------------------------------------------------------------
def row(signals: Signals, t: int) -> tuple[object, ...]:
    """Everything a strategy decides at bar ``t`` (NaN-safe for comparisons)."""
    confidence = 1.0 if signals.confidence is None else float(signals.confidence[t])
    atr = np.nan if signals.atr is None else float(signals.atr[t])
    return (
        *signals.at(t),
        float(signals.stop_distance[t]),
        float(signals.size[t]),
        confidence,
        atr,
    )


def same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or (np.isnan(x) and np.isnan(y))):
                return False
        elif x != y:
            return False
    return True


def _numbers(signals: Signals) -> tuple[FloatArray, ...]:
    n = signals.long_entry.shape[0]
    confidence = np.ones(n) if signals.confidence is None else np.asarray(signals.confidence, dtype=np.float64)
    atr = np.full(n, np.nan) if signals.atr is None else np.asarray(signals.atr, dtype=np.float64)
    return (
        np.asarray(signals.stop_distance, dtype=np.float64),
        np.asarray(signals.size, dtype=np.float64),
        confidence,
        atr,
    )


def differing(a: Signals, a_from: int, b: Signals, b_from: int, count: int, rtol: float = 0.0) -> BoolArray:
    """For ``i < count``: whether the decision at bar ``a_from + i`` of ``a`` differs from that at bar
    ``b_from + i`` of ``b`` (booleans exactly; numbers within ``rtol``, NaN equal to NaN)."""
    out = np.zeros(count, dtype=np.bool_)
    if count <= 0:
        return out
    for x, y in zip(
        (a.long_entry, a.long_exit, a.short_entry, a.short_exit),
        (b.long_entry, b.long_exit, b.short_entry, b.short_exit),
        strict=True,
    ):
        out |= np.asarray(x[a_from : a_from + count], dtype=np.bool_) != np.asarray(y[b_from : b_from + count])
    for f, g in zip(_numbers(a), _numbers(b), strict=True):
        u, v = f[a_from : a_from + count], g[b_from : b_from + count]
        both_nan = np.isnan(u) & np.isnan(v)
        with np.errstate(invalid="ignore"):
            equal = (u == v) if rtol == 0 else (np.abs(u - v) <= rtol * np.maximum(np.abs(u), np.abs(v)))
        out |= ~(equal | both_nan)
    return out


def _result(check: str, candles: CandleSeries, checked: int, failing: Iterable[int], detail: str) -> CheckResult:
    bars = sorted(set(failing))
    shown = tuple(bars[:SHOWN])
    return CheckResult(check, checked, len(bars), shown, tuple(int(candles.open_time[b]) for b in shown), detail)


# -- the context the checks run with ----------------------------------------------------------------------------
def audit_context(strategy: Strategy, candles: CandleSeries, context: Context | None = None) -> Context:
    """The context an audit runs ``strategy`` with: the one given, else synthetic predictions for a strategy
    that reads a model's (seeded, so an audit is repeatable)."""
    if context is None:
        context = Context()
    if context.predictions is None and strategy.model_type is not None:
        context = Context(synthetic_predictions(len(candles)), context.sentiment, context.regime)
    return context


# -- the prefix check -----------------------------------------------------------------------------------------
def lookahead_bars(
    strategy: Strategy, candles: CandleSeries, ends: Iterable[int], context: Context | None = None
) -> list[int]:
    """Bars ``t = end - 1`` whose decision computed on ``candles[:end]`` differs from the one computed on the
    whole history. An honest (causal) strategy returns ``[]``.

    ``context`` (aligned with the candles) is cut like them; a predictive strategy without predictions in it
    gets synthetic ones.
    """
    context = audit_context(strategy, candles, context)
    full = strategy.signals(candles, context)
    leaks = []
    for end in ends:
        t = end - 1
        prefix = strategy.signals(candles.slice(0, end), context.window(0, end))
        if not same(row(prefix, t), row(full, t)):
            leaks.append(t)
    return leaks


def prefix_check(
    strategy: Strategy, candles: CandleSeries, ends: Iterable[int], context: Context | None = None
) -> CheckResult:
    """The prefix (recursive) check at each of ``ends``: :func:`lookahead_bars` as a :class:`CheckResult`."""
    ends = sorted(set(ends))
    leaks = lookahead_bars(strategy, candles, ends, context)
    return _result(PREFIX, candles, len(ends), leaks, f"{len(ends)} prefixes")


# -- the look-ahead audit (perturbation) ----------------------------------------------------------------------
def _order(kind: str, n: int, cut: int) -> np.ndarray:
    """Row order after replacing the future: bars ``<= cut`` stay, those after are reversed or shuffled."""
    index = np.arange(n)
    if kind == "reverse":
        index[cut + 1 :] = index[cut + 1 :][::-1]
    elif kind == "shuffle":
        rng = np.random.default_rng(cut)
        index[cut + 1 :] = rng.permutation(index[cut + 1 :])
    return index


def perturbed(kind: str, candles: CandleSeries, context: Context, cut: int) -> tuple[CandleSeries, Context]:
    """``candles`` and ``context`` with every bar after ``cut`` replaced (``reverse``, ``shuffle``: the future
    rows in another order; ``spike`` / ``crash``: future prices x3 / x0.3 and volumes x10, predictions
    scaled by 3 / -3 and shifted by +/-1%, sentiment mirrored). Open times stay; each bar stays a valid candle."""
    n = len(candles)
    order = _order(kind, n, cut)
    price = np.ones(n)
    volume = np.ones(n)
    if kind in ("spike", "crash"):
        price[cut + 1 :] = 3.0 if kind == "spike" else 0.3
        volume[cut + 1 :] = 10.0
    series = CandleSeries(
        candles.symbol, candles.timeframe, candles.open_time,
        candles.open[order] * price, candles.high[order] * price, candles.low[order] * price,
        candles.close[order] * price, candles.volume[order] * volume,
    )  # fmt: skip
    predictions = context.predictions
    if predictions is not None:
        predictions = np.asarray(predictions, dtype=np.float64)[order]
        if kind in ("spike", "crash"):
            predictions[cut + 1 :] = (3.0 if kind == "spike" else -3.0) * predictions[cut + 1 :] + (
                0.01 if kind == "spike" else -0.01
            )
    sentiment = context.sentiment
    if sentiment is not None:
        sentiment = np.asarray(sentiment, dtype=np.float64)[order]
        if kind in ("spike", "crash"):
            sentiment[cut + 1 :] = 100.0 - sentiment[cut + 1 :]
    regime = context.regime
    if regime is not None and len(regime) == n:
        regime = RegimeSeries(
            regime.trend[order], regime.volatility[order], regime.trend_score[order], regime.vol_ratio[order],
            regime.warmup,
        )  # fmt: skip
    return series, Context(predictions, sentiment, regime)


def lookahead_check(
    strategy: Strategy,
    candles: CandleSeries,
    cuts: Iterable[int],
    context: Context | None = None,
    kinds: Sequence[str] = PERTURBATIONS,
) -> CheckResult:
    """The look-ahead audit: for each cut ``t`` and each perturbation, the decisions at bars ``<= t`` computed
    with the bars after ``t`` replaced must equal those of the untouched data. Failing bars are the bars
    ``<= t`` whose decision changed (a strategy that reads ``k`` bars ahead changes bars ``t - k + 1 .. t``)."""
    context = audit_context(strategy, candles, context)
    full = strategy.signals(candles, context)
    cuts = sorted({c for c in cuts if 0 <= c < len(candles) - 1})
    failing: set[int] = set()
    checked = 0
    changed_by: list[str] = []
    for cut in cuts:
        for kind in kinds:
            series, ctx = perturbed(kind, candles, context, cut)
            changed = np.flatnonzero(differing(strategy.signals(series, ctx), 0, full, 0, cut + 1))
            checked += cut + 1
            if changed.size:
                failing.update(changed.tolist())
                if kind not in changed_by:
                    changed_by.append(kind)
    detail = f"{len(cuts)} cuts x {', '.join(kinds)}"
    if changed_by:
        detail += f"; changed by: {', '.join(k for k in kinds if k in changed_by)}"
    if not cuts:
        return CheckResult(LOOKAHEAD, 0, 0, detail="too few bars to cut")
    return _result(LOOKAHEAD, candles, checked, failing, detail)


# -- the history_bars check -----------------------------------------------------------------------------------
def history_check(
    strategy: Strategy,
    candles: CandleSeries,
    context: Context | None = None,
    *,
    windows: Iterable[int] | None = None,
    blocks: int = 4,
    rtol: float = FLOAT_RTOL,
) -> CheckResult:
    """Decisions on trailing windows of ``history_bars`` bars against the whole history's.

    Every bar ``t >= history_bars - 1`` is compared: the candles are cut into windows starting every
    ``history_bars // blocks`` bars, and each window's run covers the bars whose trailing window holds
    ``history_bars`` to ``history_bars + history_bars // blocks`` bars of it (one strategy run per block, not
    per bar). ``windows`` are bars also checked on a trailing window of exactly ``history_bars`` (each its own
    run; None: every bar, a run per bar, slow). Numbers agree within ``rtol`` (see :data:`FLOAT_RTOL`).
    """
    context = audit_context(strategy, candles, context)
    h = int(strategy.history_bars)
    n = len(candles)
    if h < 1 or n < h:
        return CheckResult(HISTORY, 0, 0, detail=f"{n} bars, fewer than history_bars ({h}): nothing to check")
    full = strategy.signals(candles, context)
    failing: set[int] = set()
    step = max(1, h // max(1, blocks))
    covered = 0
    for start in range(0, n - h + 1, step):
        first = start + h - 1  # the first bar whose trailing window in this run holds h bars
        stop = min(n, first + step)
        part = strategy.signals(candles.slice(start, stop), context.window(start, stop))
        bad = differing(part, h - 1, full, first, stop - first, rtol)
        failing.update((first + np.flatnonzero(bad)).tolist())
        covered += stop - first
    exact = range(h - 1, n) if windows is None else sorted({t for t in windows if h - 1 <= t < n})
    for t in exact:
        start = t - h + 1
        part = strategy.signals(candles.slice(start, t + 1), context.window(start, t + 1))
        if differing(part, h - 1, full, t, 1, rtol)[0]:
            failing.add(t)
    detail = f"every bar on a window of {h}-{h + step - 1} bars, {len(exact)} on exactly {h}"
    if h < int(strategy.warmup):
        detail += f"; history_bars is below the warm-up ({strategy.warmup})"
    return _result(HISTORY, candles, covered, failing, detail)


# -- plans ----------------------------------------------------------------------------------------------------
def _spread(low: int, high: int, count: int, seed: int) -> list[int]:
    """``count`` distinct bars in ``[low, high]``, seeded (always the same for the same arguments)."""
    if high < low or count <= 0:
        return []
    pool = np.arange(low, high + 1)
    if pool.size <= count:
        return pool.tolist()
    picks = np.random.default_rng(seed).choice(pool, size=count, replace=False)
    return sorted(picks.tolist())


def checked_part(strategy: Strategy, candles: CandleSeries, plan: CheckPlan) -> tuple[int, int]:
    """The bars ``[start, stop)`` of ``candles`` a plan checks (the last ``history_bars + plan.bars``)."""
    n = len(candles)
    if plan.bars is None:
        return 0, n
    return max(0, n - (int(strategy.history_bars) + plan.bars)), n


def run_checks(
    strategy: Strategy, candles: CandleSeries, plan: CheckPlan = FULL, context: Context | None = None
) -> list[CheckResult]:
    """The three checks on ``candles`` (cut to the part ``plan`` checks; bar indexes in the results are
    those of ``candles``), in the order of :data:`CHECKS`."""
    start, stop = checked_part(strategy, candles, plan)
    if start or stop != len(candles):
        context = None if context is None else context.window(start, stop)
        candles = candles.slice(start, stop)
    context = audit_context(strategy, candles, context)
    n = len(candles)
    first = min(max(1, int(strategy.warmup)), n - 1)
    ends = [*_spread(first + 1, n, plan.prefix_ends - 1, seed=n), n]
    cuts = np.linspace(first, n - 10, plan.cuts + 2).astype(int)[1:-1].tolist() if n - 10 > first + 2 else []
    h = int(strategy.history_bars)
    windows = _spread(h - 1, n - 1, plan.windows, seed=n + 1)
    results = [
        lookahead_check(strategy, candles, cuts, context),
        prefix_check(strategy, candles, ends, context),
        history_check(strategy, candles, context, windows=windows, blocks=plan.blocks),
    ]
    return [dataclasses.replace(r, bars=tuple(b + start for b in r.bars)) for r in results]
