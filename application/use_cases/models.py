"""Managing registered models: list, show, promote (guarded by stress tests), roll back, delete.

Promotion guard: before ``latest`` moves to a new version, the model's strategy (``ml_basic`` for basic
models, ``ml_sentiment`` for sentiment ones) is backtested with the candidate and with the current
``latest`` on each **stress window**, periods where markets fell hard. The candidate is refused when its
total return on any window is more than ``margin`` below the current one's (0.05 = 5 percentage points),
unless forced. Every promotion and rollback is logged by the registry with the figures as its reason.

The default stress windows (:data:`DEFAULT_STRESS_WINDOWS`, covered by the bundled data) are the 2018 bear
market and the March 2020 crash; ``ATB_STRESS_WINDOWS`` replaces them and ``ATB_PROMOTION_MARGIN`` sets
the margin (see :func:`parse_stress_windows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from application.ports.errors import ConfigurationError, MarketDataUnavailable
from application.ports.models import ModelInfo, ModelNotFound, ModelRef, ModelRefused, ModelRegistry, RegistryEvent
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from application.use_cases.train_model import STRATEGY_FOR_TYPE
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

DEFAULT_MARGIN = 0.05


def _ms(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp() * 1000)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class StressWindow:
    """A named period ``[start_ms, end_ms)`` (UTC ms) a model must not do much worse on than its predecessor."""

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


@dataclass(frozen=True, slots=True)
class StressResult:
    """Total returns of the candidate and of the current ``latest`` on one window (None: not covered)."""

    window: StressWindow
    candidate: float | None
    current: float | None
    note: str = ""

    def worse_by(self) -> float:
        if self.candidate is None or self.current is None:
            return 0.0
        return self.current - self.candidate

    def describe(self) -> str:
        if self.candidate is None or self.current is None:
            return f"{self.window.name}: skipped ({self.note})"
        return f"{self.window.name}: {self.candidate:+.2%} vs {self.current:+.2%}"


@dataclass(frozen=True, slots=True)
class PromotionResult:
    info: ModelInfo
    previous: str | None
    stress: tuple[StressResult, ...]
    forced: bool
    reason: str


class PromoteModel:
    """Points ``latest`` at a version after the stress tests (see the module docstring)."""

    def __init__(
        self,
        registry: ModelRegistry,
        backtest: RunBacktest,
        windows: tuple[StressWindow, ...] = DEFAULT_STRESS_WINDOWS,
        margin: float = DEFAULT_MARGIN,
        initial_cash: Decimal = Decimal(10_000),
    ) -> None:
        if margin < 0:
            raise ConfigurationError("the promotion margin cannot be negative")
        self._registry = registry
        self._backtest = backtest
        self._windows = windows
        self._margin = margin
        self._cash = initial_cash

    @property
    def windows(self) -> tuple[StressWindow, ...]:
        return self._windows

    @property
    def margin(self) -> float:
        return self._margin

    def __call__(self, ref: ModelRef, force: bool = False) -> PromotionResult:
        candidate = self._registry.resolve(ref.symbol, ref.model_type, ref.version)
        try:
            current: ModelInfo | None = self._registry.resolve(ref.symbol, ref.model_type)
        except ModelNotFound:
            current = None
        if current is not None and current.ref == candidate.ref:
            raise ModelRefused(f"{ref} is already the latest {ref.symbol}/{ref.model_type} model")
        stress = tuple(self.stress_test(candidate, current)) if current is not None else ()
        worst = max(stress, key=lambda r: r.worse_by(), default=None)
        summary = "; ".join(r.describe() for r in stress)
        if current is not None and worst is not None and worst.worse_by() > self._margin:
            message = (
                f"{ref} does worse than the latest ({current.ref.version}) on {worst.window}: total return "
                f"{worst.candidate:+.2%} vs {worst.current:+.2%}, more than the margin of {self._margin:.0%}"
            )
            if not force:
                raise ModelRefused(message + "; promote with --force to override")
            reason = f"forced past the stress test: {message}"
        elif current is None:
            reason = "first promoted version (nothing to compare with)"
        else:
            reason = f"stress test passed (margin {self._margin:.0%}): {summary}" if stress else "no stress window"
        if force and current is not None and not reason.startswith("forced"):
            reason = f"forced; {reason}"
        info = self._registry.promote(candidate.ref, reason=reason)
        return PromotionResult(info, current.ref.version if current else None, stress, force, reason)

    def stress_test(self, candidate: ModelInfo, current: ModelInfo) -> list[StressResult]:
        """Backtest both versions' strategy on every stress window."""
        return [self._compare(candidate, current, window) for window in self._windows]

    def _compare(self, candidate: ModelInfo, current: ModelInfo, window: StressWindow) -> StressResult:
        try:
            mine = self._total_return(candidate, window)
            theirs = self._total_return(current, window)
        except MarketDataUnavailable as e:
            return StressResult(window, None, None, str(e))
        return StressResult(window, mine, theirs)

    def _total_return(self, info: ModelInfo, window: StressWindow) -> float:
        timeframe = Timeframe.parse(str(info.metadata.get("timeframe", "1h")))
        report = self._backtest(
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
        return float(report.metrics["total_return"])


def rollback_model(registry: ModelRegistry, symbol: str, model_type: str, reason: str = "") -> ModelInfo:
    """Point ``latest`` back at the version it named before the last promotion (logged)."""
    return registry.rollback(symbol, model_type, reason=reason or "rolled back by hand")


def delete_model(registry: ModelRegistry, ref: ModelRef) -> None:
    """Remove a version that is not ``latest`` (the registry refuses the latest one)."""
    registry.delete(ref)


# -- presenting -----------------------------------------------------------------------------------------------


def model_row(info: ModelInfo) -> dict[str, Any]:
    """One line of ``atb models list``."""
    meta = info.metadata
    test = (meta.get("metrics") or {}).get("test") or {}
    backtest = (meta.get("backtest") or {}).get("metrics") or {}
    return {
        "symbol": info.ref.symbol,
        "type": info.ref.model_type,
        "version": info.ref.version,
        "latest": info.is_latest,
        "timeframe": meta.get("timeframe"),
        "registered_ms": info.registered_ms,
        "test_rmse": (test.get("model") or {}).get("rmse"),
        "test_directional_accuracy": (test.get("model") or {}).get("directional_accuracy"),
        "test_total_return": backtest.get("total_return"),
        "test_buy_and_hold_return": backtest.get("buy_and_hold_return"),
        "path": str(info.path),
    }


def describe_model(info: ModelInfo, history: list[RegistryEvent]) -> dict[str, Any]:
    """Everything ``atb models show`` prints: metadata, metrics next to their baselines, the registry log."""
    return {
        "ref": str(info.ref),
        "latest": info.is_latest,
        "path": str(info.path),
        "registered_ms": info.registered_ms,
        "schema": info.schema.to_dict(),
        "metadata": info.metadata,
        "history": [
            {"at_ms": e.at_ms, "action": e.action, "version": e.ref.version, "previous": e.previous, "reason": e.reason}
            for e in history
        ],
    }

