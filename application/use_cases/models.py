"""Managing registered models: list, show, promote (through the promotion gate), roll back, delete.

Promotion: ``latest`` moves to a version only when it passes the gate of
:mod:`application.use_cases.promotion_gate` (out-of-sample metrics against the naive baselines, its
strategy's test-period trades and return, stress windows that are out of sample for it; fails closed when no
window could be tested), unless forced. Every promotion is logged by the registry with the gate's one-line
verdict as its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from application.ml import missing_provenance
from application.names import check_name, check_symbol
from application.ports.models import ModelInfo, ModelNotFound, ModelRef, ModelRefused, ModelRegistry, RegistryEvent
from application.use_cases.promotion_gate import (
    DEFAULT_MARGIN,
    DEFAULT_MIN_TRADES,
    DEFAULT_STRESS_WINDOWS,
    GateProgress,
    GateVerdict,
    PromotionGate,
    StressWindow,
    WindowResult,
    parse_stress_windows,
    recorded_verdict,
)
from application.use_cases.run_backtest import RunBacktest

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_STRESS_WINDOWS",
    "PromoteModel",
    "PromotionResult",
    "StressWindow",
    "WindowResult",
    "check_ref",
    "delete_model",
    "describe_model",
    "model_row",
    "parse_stress_windows",
    "rollback_model",
]


@dataclass(frozen=True, slots=True)
class PromotionResult:
    info: ModelInfo
    previous: str | None
    verdict: GateVerdict
    forced: bool
    reason: str

    @property
    def stress(self) -> tuple[WindowResult, ...]:
        return self.verdict.windows


class PromoteModel:
    """Points ``latest`` at a version that passes the promotion gate (or when forced)."""

    def __init__(
        self,
        registry: ModelRegistry,
        backtest: RunBacktest,
        windows: tuple[StressWindow, ...] = DEFAULT_STRESS_WINDOWS,
        margin: float = DEFAULT_MARGIN,
        initial_cash: Decimal = Decimal(10_000),
        min_trades: int = DEFAULT_MIN_TRADES,
    ) -> None:
        self._registry = registry
        self._backtest = backtest
        self.gate = PromotionGate(windows, margin, min_trades, initial_cash)

    @property
    def windows(self) -> tuple[StressWindow, ...]:
        return self.gate.windows

    @property
    def margin(self) -> float:
        return self.gate.margin

    def __call__(self, ref: ModelRef, force: bool = False, progress: GateProgress | None = None) -> PromotionResult:
        check_ref(ref)
        candidate = self._registry.resolve(ref.symbol, ref.model_type, ref.version)
        missing = missing_provenance(candidate)
        if missing:  # the gate's out-of-sample checks need them; --force does not stand in for provenance
            raise ModelRefused(
                f"{ref} does not record {', '.join(missing)} in its metadata: a model whose provenance cannot be "
                "checked is never promoted, not even with --force; retrain it with atb train"
            )
        try:
            current: ModelInfo | None = self._registry.resolve(ref.symbol, ref.model_type)
        except ModelNotFound:
            current = None
        if current is not None and current.ref == candidate.ref:
            raise ModelRefused(f"{ref} is already the latest {ref.symbol}/{ref.model_type} model")
        verdict = self.gate.evaluate(candidate, current, self._backtest, progress)
        if verdict.passed:
            reason = verdict.summary()
        elif not force:
            failed = "; ".join(c.describe() for c in verdict.failures())
            raise ModelRefused(f"{ref} fails the promotion gate: {failed}; promote with --force to override")
        else:
            reason = f"forced past the gate (--force): {verdict.summary()}"
        info = self._registry.promote(candidate.ref, reason=reason)
        return PromotionResult(info, current.ref.version if current else None, verdict, force, reason)

    def verdict_now(self, info: ModelInfo) -> GateVerdict:
        """The gate's verdict without running a backtest (``atb models show``): windows that would need one
        are "not evaluated"."""
        return self.gate.evaluate(info, None, None)


def check_ref(ref: ModelRef) -> ModelRef:
    """``ref`` if its symbol, type and version follow the naming rule (application.names), before any work."""
    check_symbol(ref.symbol)
    check_name("model type", ref.model_type)
    check_name("version", ref.version)
    return ref


def rollback_model(registry: ModelRegistry, symbol: str, model_type: str, reason: str = "") -> ModelInfo:
    """Point ``latest`` back at the version it named before the last promotion (logged)."""
    check_symbol(symbol)
    check_name("model type", model_type)
    return registry.rollback(symbol, model_type, reason=reason or "rolled back by hand")


def delete_model(registry: ModelRegistry, ref: ModelRef) -> None:
    """Remove a version that is not ``latest`` (the registry refuses the latest one)."""
    check_ref(ref)
    registry.delete(ref)


# -- presenting -----------------------------------------------------------------------------------------------


def model_row(info: ModelInfo, verdict_now: GateVerdict | None = None) -> dict[str, Any]:
    """One line of ``atb models list``; ``gate``: the verdict recorded at training, else ``verdict_now``'s."""
    meta = info.metadata
    recorded = recorded_verdict(meta)
    gate = recorded.get("verdict") if recorded else (verdict_now.verdict if verdict_now else "not evaluated")
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
        "gate": gate,
        "path": str(info.path),
    }


def describe_model(
    info: ModelInfo, history: list[RegistryEvent], verdict_now: GateVerdict | None = None
) -> dict[str, Any]:
    """Everything ``atb models show`` prints: metadata, metrics next to their baselines, the promotion gate
    (as recorded by ``atb train``, else ``verdict_now`` computed without backtests, else not evaluated), the
    registry log."""
    recorded = recorded_verdict(info.metadata)
    if recorded is not None:
        gate: dict[str, Any] = {"source": "recorded when the version was trained", **recorded}
    elif verdict_now is not None:
        gate = {"source": "computed now from its metadata, without stress backtests", **verdict_now.to_dict()}
    else:
        gate = {"source": "none", "verdict": "not evaluated", "checks": [], "windows": []}
    return {
        "gate": gate,
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
