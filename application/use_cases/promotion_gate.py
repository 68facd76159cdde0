"""The promotion gate: what a model version must pass before it becomes ``latest`` (ADR 0011).

Checks, all on data the model never learnt from (its out-of-sample test period, and stress windows that lie
wholly after its validation data):

1. ``test RMSE``: the model's RMSE on the test windows is **strictly below** the zero-return forecast's (a
   model that predicts no better than "no move" adds only noise);
2. ``directional accuracy``: its share of right up/down calls on the test windows is **strictly above** the
   "always up" call's (the zero forecast's directional call);
3. ``test trades``: its strategy (``ml_basic`` / ``ml_sentiment``, default parameters) makes at least
   ``min_trades`` trades on the test period (default 1: a model whose strategy never acts cannot be judged
   by its return, which is trivially cash's);
4. ``test return``: that backtest's total return is at least ``-margin`` (it does not do worse than doing
   nothing, 0 % in cash, by more than the margin);
5. ``stress windows``: on every stress window that could be tested, the strategy's total return is at least
   the reference's minus the margin. The reference is the current ``latest`` version when the window is out of
   sample for it too, else doing nothing (0 %). A window is **not tested** (with the reason) when it starts
   before the end of the model's validation data (it overlaps the training or validation data, or lies before
   them: the model learnt from what came after), when the model's metadata does not record those ranges, or
   when the data does not cover it. The check **fails closed**: no tested window, no pass.

Figures 1-4 come from the version's ``metadata.json`` (computed by ``atb train``); a figure that is not
recorded fails its check. The verdict is ``passed`` (all pass), ``failed`` (any fails) or ``not evaluated``
(nothing failed, but the stress backtests were not run: ``atb models show`` does not run them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from application.ml import split_range
from application.ports.errors import ConfigurationError, MarketDataUnavailable
from application.ports.models import ModelInfo
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

STRATEGY_FOR_TYPE = {"basic": "ml_basic", "sentiment": "ml_sentiment"}
"""The strategy that trades each model type (its test-period backtest and the stress tests)."""

DEFAULT_MARGIN = 0.05
DEFAULT_MIN_TRADES = 1

GateProgress = Callable[[str, int, int], None]
"""``(what, done, total)``: a stress backtest about to run (``done`` of ``total`` finished)."""


def _ms(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp() * 1000)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class StressWindow:
    """A named period ``[start_ms, end_ms)`` (UTC ms) a model must not do much worse on than its reference."""

    name: str
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.start_ms >= self.end_ms:
            raise ConfigurationError(f"stress window {self.name!r} must end after it starts")

    def __str__(self) -> str:
        return f"{self.name} ({_day(self.start_ms)} → {_day(self.end_ms)})"


DEFAULT_STRESS_WINDOWS: tuple[StressWindow, ...] = (
    # BTC fell from about 17,000 to about 3,200 USDT.
    StressWindow("2018 bear market", _ms("2018-01-07"), _ms("2018-12-15")),
    # The COVID crash: BTC lost half its price in two days (2020-03-12/13) and recovered within weeks.
    StressWindow("March 2020 crash", _ms("2020-02-15"), _ms("2020-04-15")),
)


def parse_stress_windows(text: str) -> tuple[StressWindow, ...]:
    """``"name=YYYY-MM-DD..YYYY-MM-DD;..."`` (end exclusive, UTC); empty text gives the defaults."""
    if not text.strip():
        return DEFAULT_STRESS_WINDOWS
    windows = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, span = item.partition("=")
        first, dots, last = span.partition("..")
        if not sep or not dots or not name.strip():
            raise ConfigurationError(f"stress window {item!r}: write name=YYYY-MM-DD..YYYY-MM-DD")
        try:
            windows.append(StressWindow(name.strip(), _ms(first.strip()), _ms(last.strip())))
        except ValueError:
            raise ConfigurationError(f"stress window {item!r}: dates must be YYYY-MM-DD") from None
    return tuple(windows)


# -- the verdict ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One check: ``passed`` None means not evaluated."""

    name: str
    passed: bool | None
    detail: str

    def describe(self) -> str:
        return f"{self.name} {_status(self.passed)}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One stress window: tested (returns and whether it passed), not tested (why), or not evaluated."""

    window: StressWindow
    status: str  # "tested", "not tested", "not evaluated"
    reason: str = ""  # why not tested / not evaluated
    candidate: float | None = None
    reference: float | None = None
    reference_name: str = ""  # "doing nothing" or "latest VERSION"
    passed: bool | None = None

    def describe(self) -> str:
        if self.status != "tested":
            return f"{self.window}: {self.status} ({self.reason})"
        return (
            f"{self.window}: {_status(self.passed)}, total return {self.candidate:+.2%} vs {self.reference:+.2%} "
            f"({self.reference_name})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.window.name,
            "start": _day(self.window.start_ms),
            "end": _day(self.window.end_ms),
            "status": self.status,
            "reason": self.reason,
            "total_return": self.candidate,
            "reference_return": self.reference,
            "reference": self.reference_name,
            "passed": self.passed,
        }


def _status(passed: bool | None) -> str:
    return "not evaluated" if passed is None else ("passed" if passed else "FAILED")


@dataclass(frozen=True, slots=True)
class GateVerdict:
    checks: tuple[GateCheck, ...]
    windows: tuple[WindowResult, ...]
    margin: float
    min_trades: int

    @property
    def passed(self) -> bool | None:
        """True: every check passed; False: one failed; None: none failed, some not evaluated."""
        if any(c.passed is False for c in self.checks):
            return False
        if all(c.passed for c in self.checks):
            return True
        return None

    @property
    def verdict(self) -> str:
        return {True: "passed", False: "failed", None: "not evaluated"}[self.passed]

    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if c.passed is False]

    def summary(self) -> str:
        """One line: the verdict and every check (and every window)."""
        windows = "; ".join(w.describe() for w in self.windows)
        checks = "; ".join(c.describe() for c in self.checks)
        return f"gate {self.verdict}: {checks}" + (f" [windows: {windows}]" if windows else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "margin": self.margin,
            "min_trades": self.min_trades,
            "checks": [c.to_dict() for c in self.checks],
            "windows": [w.to_dict() for w in self.windows],
        }


# -- the checks -----------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def metric_checks(metadata: dict[str, Any], margin: float, min_trades: int = DEFAULT_MIN_TRADES) -> list[GateCheck]:
    """Checks 1-4 (see the module docstring) from a version's metadata."""
    test = (metadata.get("metrics") or {}).get("test") or {}
    model, zero = test.get("model") or {}, test.get("zero") or {}
    checks = []
    for name, key, label, fmt, lower in (
        ("test RMSE", "rmse", "the zero-return forecast", "{:.6f}", True),
        ("directional accuracy", "directional_accuracy", "always up", "{:.2%}", False),
    ):
        mine, base = _number(model.get(key)), _number(zero.get(key))
        if mine is None or base is None:
            checks.append(GateCheck(name, False, "not recorded in the version's metadata"))
            continue
        beats = mine < base if lower else mine > base
        word = ("" if beats else "not ") + ("below" if lower else "above")
        checks.append(GateCheck(name, beats, f"{fmt.format(mine)}, {word} {label}'s {fmt.format(base)}"))
    backtest = metadata.get("backtest") or {}
    figures = backtest.get("metrics") or {}
    strategy = backtest.get("strategy", "its strategy")
    trades, total = _number(figures.get("trades")), _number(figures.get("total_return"))
    if trades is None:
        checks.append(GateCheck("test trades", False, "no test-period backtest recorded"))
    else:
        made = f"{strategy} made {trades:.0f} trades on the test period (at least {min_trades})"
        checks.append(GateCheck("test trades", trades >= min_trades, made))
    if total is None:
        checks.append(GateCheck("test return", False, "no test-period backtest recorded"))
    else:
        versus = f"{total:+.2%} on the test period vs doing nothing 0.00% (margin {margin:.0%})"
        checks.append(GateCheck("test return", total >= -margin, versus))
    return checks


def not_out_of_sample(info: ModelInfo, window: StressWindow) -> str | None:
    """Why ``window`` is not out of sample for the model (None: it is): it must start at or after the end of
    the model's training and validation data."""
    train, val = split_range(info.metadata, "train_range"), split_range(info.metadata, "val_range")
    if train is None or val is None:
        return "the model's metadata does not record its training and validation ranges"
    seen_until = max(train[1], val[1])
    if window.end_ms <= train[0]:
        return (f"before the model's training data ({_day(train[0])} on): it learnt from what came after "
                "(LOOK-AHEAD)")  # fmt: skip
    if window.start_ms < seen_until:
        which = "training" if window.start_ms < train[1] else "validation"
        return f"overlaps the model's {which} data (trained and validated up to {_day(seen_until)})"
    return None


def stress_check(windows: Sequence[WindowResult]) -> GateCheck:
    """Check 5: fails closed when no window was tested."""
    tested = [w for w in windows if w.status == "tested"]
    pending = [w for w in windows if w.status == "not evaluated"]
    if any(w.passed is False for w in tested):
        failed = ", ".join(w.window.name for w in tested if w.passed is False)
        return GateCheck("stress windows", False, f"worse than the reference by more than the margin on {failed}")
    if pending:
        return GateCheck("stress windows", None, f"{len(pending)} window(s) not backtested yet")
    if not tested:
        return GateCheck("stress windows", False, "no window could be tested (fails closed)")
    return GateCheck("stress windows", True, f"{len(tested)} of {len(windows)} tested, none worse than the margin")


class PromotionGate:
    """Evaluates the checks of the module docstring. ``windows``, ``margin``: ``ATB_STRESS_WINDOWS``,
    ``ATB_PROMOTION_MARGIN``."""

    def __init__(
        self,
        windows: tuple[StressWindow, ...] = DEFAULT_STRESS_WINDOWS,
        margin: float = DEFAULT_MARGIN,
        min_trades: int = DEFAULT_MIN_TRADES,
        initial_cash: Decimal = Decimal(10_000),
    ) -> None:
        if margin < 0:
            raise ConfigurationError("the promotion margin cannot be negative")
        self.windows = windows
        self.margin = margin
        self.min_trades = min_trades
        self._cash = initial_cash

    def evaluate(
        self,
        candidate: ModelInfo,
        current: ModelInfo | None,
        backtest: RunBacktest | None,
        progress: GateProgress | None = None,
    ) -> GateVerdict:
        """The verdict for ``candidate`` (``current``: the ``latest`` it would replace). ``backtest`` None:
        the stress windows that could be tested are "not evaluated" (no backtest runs)."""
        checks = metric_checks(candidate.metadata, self.margin, self.min_trades)
        results = []
        total = len(self.windows)
        ran = False
        for done, window in enumerate(self.windows):
            reason = not_out_of_sample(candidate, window)
            if reason is not None:
                results.append(WindowResult(window, "not tested", reason))
            elif backtest is None:
                results.append(WindowResult(window, "not evaluated", "its backtest runs on promotion"))
            else:
                ran = True
                if progress is not None:
                    progress(f"stress window {window.name}", done, total)
                results.append(self._test(candidate, current, window, backtest))
        if progress is not None and ran:
            progress("stress windows", total, total)
        checks.append(stress_check(results))
        return GateVerdict(tuple(checks), tuple(results), self.margin, self.min_trades)

    def _test(
        self, candidate: ModelInfo, current: ModelInfo | None, window: StressWindow, backtest: RunBacktest
    ) -> WindowResult:
        try:
            mine = self._total_return(candidate, window, backtest)
        except MarketDataUnavailable as e:
            return WindowResult(window, "not tested", f"the data does not cover it: {e}")
        if isinstance(mine, str):
            return WindowResult(window, "not tested", mine)
        reference, name = 0.0, "doing nothing"
        if current is not None and not_out_of_sample(current, window) is None:
            theirs = self._total_return(current, window, backtest)
            if isinstance(theirs, float):
                reference, name = theirs, f"latest {current.ref.version}"
        return WindowResult(window, "tested", "", mine, reference, name, mine >= reference - self.margin)

    def _total_return(self, info: ModelInfo, window: StressWindow, backtest: RunBacktest) -> float | str:
        """The total return on the window, or why the data does not cover it."""
        timeframe = Timeframe.parse(str(info.metadata.get("timeframe", "1h")))
        report = backtest(
            BacktestRequest(
                strategy=STRATEGY_FOR_TYPE[info.ref.model_type],
                symbols=(Symbol.parse(info.ref.symbol),),
                timeframe=timeframe,
                initial_cash=self._cash,
                start_ms=window.start_ms,
                end_ms=window.end_ms,
                model_version=info.ref.version,
            )
        )
        bar = timeframe.milliseconds
        times = report.open_time
        if times.size == 0 or int(times[0]) > window.start_ms + bar or int(times[-1]) + 2 * bar < window.end_ms:
            covered = f"{_day(int(times[0]))} → {_day(int(times[-1]) + bar)}" if times.size else "none"
            return f"the data covers only {covered} of it"
        return float(report.metrics["total_return"])


def recorded_verdict(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The gate verdict recorded in a version's metadata by ``atb train`` (None: none recorded)."""
    gate = metadata.get("gate")
    return gate if isinstance(gate, dict) and isinstance(gate.get("checks"), list) else None
