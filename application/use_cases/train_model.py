"""Train a model: candles (+ sentiment) -> dataset -> trainer (Keras, ONNX export checked) -> honest metrics
-> ``metadata.json`` -> the registry.

Honesty first: the metadata records, for the validation and the (out-of-sample) test windows, the model's
RMSE and directional accuracy next to naive baselines (persistence: tomorrow's return is today's; zero: no
move, whose directional call is "always up"), and the backtest of the model's strategy on the test period
next to buy-and-hold. ``atb models show`` prints them side by side.

Promotion: the version is registered, then the promotion gate (:mod:`application.use_cases.promotion_gate`)
judges it and its verdict is recorded in ``metadata.json`` (``gate``); it becomes ``latest`` only when it
passes (``promote="auto"``), always (``"force"``, logged as forced) or never (``"never"``).
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from application.ml import check_schema
from application.names import check_name, check_symbol
from application.ports.errors import ConfigurationError
from application.ports.market_data import MarketData
from application.ports.models import (
    MODEL_TYPES,
    ModelInfo,
    ModelNotFound,
    ModelRef,
    ModelRegistry,
    PredictorFactory,
    RegistryEvent,
    Trainer,
    TrainingParams,
)
from application.ports.predictor import Predictor
from application.ports.sentiment import Sentiment
from application.ports.simulation import SimulatorFactory
from application.use_cases.promotion_gate import (
    DEFAULT_MARGIN,
    DEFAULT_STRESS_WINDOWS,
    STRATEGY_FOR_TYPE,
    GateVerdict,
    PromotionGate,
    StressWindow,
)
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.features import FeatureSchemaError, TrainingData
from domain.features.builder import default_schema, next_returns
from domain.features.dataset import build_dataset
from domain.model.candles import CandleSeries, FloatArray, IntArray
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

METADATA_FORMAT = 1
TrainProgress = Callable[[int, int, dict[str, float]], None]
TrainStatus = Callable[[str, str], None]
"""``(phase, detail)``: a phase of training starts (see :data:`PHASES`)."""

PHASES = ("data", "training", "export", "parity", "metrics", "test backtest", "stress backtests")
"""The phases of ``atb train`` in order; ``metadata.json`` records each one's wall seconds."""
PROMOTE_MODES = ("auto", "force", "never")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class TrainRequest:
    """A model to train on ``[start_ms, end_ms)`` (UTC ms; None: all the data) of ``symbol``'s candles.

    ``window`` / ``norm_window``: bars per input window / bars of the past-only normalisation. The data are
    split in time order into train, validation (``val_fraction``) and test (``test_fraction``) windows, with
    an embargo of ``embargo`` bars (None: one window) between splits. ``version``: "" lets the registry name
    it. ``backtest``: also backtest the model's strategy on the test period (recorded in the metadata).
    ``promote``: ``auto`` (latest if it passes the gate), ``force`` (latest anyway, logged) or ``never``.
    """

    symbol: Symbol
    model_type: str
    timeframe: Timeframe
    params: TrainingParams = field(default_factory=TrainingParams)
    window: int = 120
    norm_window: int = 500
    start_ms: int | None = None
    end_ms: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    embargo: int | None = None
    version: str = ""
    tolerance: float = 1e-4
    backtest: bool = True
    initial_cash: Decimal = Decimal(10_000)
    promote: str = "auto"

    def __post_init__(self) -> None:
        if self.promote not in PROMOTE_MODES:
            raise ConfigurationError(f"promote must be one of {', '.join(PROMOTE_MODES)}, got {self.promote!r}")
        if self.model_type not in MODEL_TYPES:
            raise ConfigurationError(f"model type must be one of {', '.join(MODEL_TYPES)}, got {self.model_type!r}")
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ConfigurationError("the start date must be before the end date")


@dataclass(frozen=True, slots=True)
class TrainResult:
    info: ModelInfo  # the registered version (latest only when promoted)
    notes: tuple[str, ...] = ()
    verdict: GateVerdict | None = None
    promoted: bool = False
    promotion: str = ""  # the promotion's logged reason, or why it was not promoted


class _PhaseClock:
    """Forwards phase changes to the caller's status callback and times each phase (wall seconds)."""

    def __init__(self, status: TrainStatus | None) -> None:
        self._status = status
        self._current: str | None = None
        self._since = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def __call__(self, phase: str, detail: str = "") -> None:
        if phase != self._current:
            self.stop()
            self._current = phase
        if self._status is not None:
            self._status(phase, detail)

    def stop(self) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.seconds[self._current] = round(self.seconds.get(self._current, 0.0) + now - self._since, 3)
        self._current = None
        self._since = now


# -- metrics ------------------------------------------------------------------------------------------------------


def prediction_metrics(pred: FloatArray, y: FloatArray) -> dict[str, float]:
    """RMSE and directional accuracy (the share of windows whose sign is called right; a zero call counts
    as "up", a zero move is left out)."""
    pred = np.asarray(pred, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    rmse = float(np.sqrt(np.mean((pred - y) ** 2))) if y.size else float("nan")
    moved = y != 0
    called_up = pred >= 0
    hits = called_up[moved] == (y[moved] > 0)
    accuracy = float(np.mean(hits)) if hits.size else float("nan")
    return {"rmse": rmse, "directional_accuracy": accuracy, "windows": int(y.size)}


def split_metrics(predicted: FloatArray, y: FloatArray, previous: FloatArray) -> dict[str, dict[str, float]]:
    """The model's metrics on one split next to the naive baselines on the same windows.

    ``previous``: each window's last known return (the return into its last bar), the persistence forecast.
    ``zero`` predicts no move: its RMSE is the target's own scale, and its directional call is "always up".
    """
    return {
        "model": prediction_metrics(predicted, y),
        "persistence": prediction_metrics(previous, y),
        "zero": prediction_metrics(np.zeros_like(y, dtype=np.float64), y),
    }


def split_range(times: IntArray, timeframe: Timeframe) -> list[int]:
    """``[start_ms, end_ms)`` of a split: its windows' last bars and the bar after the last one, whose close
    is that window's target (so a backtest over this range uses no bar the other splits learnt from)."""
    return [int(times[0]), int(times[-1]) + 2 * timeframe.milliseconds]


def candles_sha256(candles: CandleSeries) -> str:
    """A hash of the candles used: open times (int64) then open, high, low, close, volume (float64), as
    little-endian bytes in that order."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(candles.open_time, dtype="<i8").tobytes())
    for column in (candles.open, candles.high, candles.low, candles.close, candles.volume):
        digest.update(np.ascontiguousarray(column, dtype="<f8").tobytes())
    return digest.hexdigest()


def _sha256(values: FloatArray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values, dtype="<f8").tobytes()).hexdigest()


def _versions(extra: dict[str, str]) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("atb", "numpy", "onnxruntime"):
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return {**found, **extra}


class _WithStaged:
    """The registry, plus one staged (not yet registered) version that ``resolve`` can name: lets the test-
    period backtest run the new model through the ordinary backtest use case before it is registered."""

    def __init__(self, base: ModelRegistry, staged: ModelInfo) -> None:
        self._base = base
        self._staged = staged

    def resolve(
        self, symbol: str, model_type: str, version: str | None = None, as_of_ms: int | None = None
    ) -> ModelInfo:
        ref = self._staged.ref
        if (symbol, model_type, version) == (ref.symbol, ref.model_type, ref.version):
            return self._staged
        return self._base.resolve(symbol, model_type, version, as_of_ms)

    def register(self, staging_dir: Path, ref: ModelRef, promote: bool = True) -> ModelInfo:
        return self._base.register(staging_dir, ref, promote)

    def promote(self, ref: ModelRef, reason: str = "") -> ModelInfo:
        return self._base.promote(ref, reason)

    def rollback(self, symbol: str, model_type: str, reason: str = "") -> ModelInfo:
        return self._base.rollback(symbol, model_type, reason)

    def delete(self, ref: ModelRef) -> None:
        self._base.delete(ref)

    def history(self, symbol: str, model_type: str) -> list[RegistryEvent]:
        return self._base.history(symbol, model_type)

    def list(self, symbol: str | None = None, model_type: str | None = None) -> builtins.list[ModelInfo]:
        return self._base.list(symbol, model_type)


STAGED_VERSION = ".staged"


class TrainModel:
    """The training use case. ``trainer`` is built on first use (TensorFlow loads only when training)."""

    def __init__(
        self,
        market_data: MarketData,
        trainer: Callable[[], Trainer],
        registry: ModelRegistry,
        predictors: PredictorFactory,
        simulator: SimulatorFactory,
        sentiment: Sentiment | None = None,
        clock: Callable[[], int] = now_ms,
        windows: tuple[StressWindow, ...] = DEFAULT_STRESS_WINDOWS,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self._market_data = market_data
        self._trainer = trainer
        self._registry = registry
        self._predictors = predictors
        self._simulator = simulator
        self._sentiment = sentiment
        self._clock = clock
        self.gate = PromotionGate(windows, margin)

    def __call__(
        self, request: TrainRequest, progress: TrainProgress | None = None, status: TrainStatus | None = None
    ) -> TrainResult:
        # Before any work: a name the registry would refuse must not cost a training first.
        check_symbol(str(request.symbol))
        check_name("model type", request.model_type)
        if request.version:
            check_name("version", request.version)
        started = time.perf_counter()
        trained_at = self._clock()
        phase = _PhaseClock(status)
        phase("data")
        candles = self._market_data.candles(request.symbol, request.timeframe, request.start_ms, request.end_ms)
        schema = default_schema(
            sentiment=request.model_type == "sentiment", window=request.window, norm_window=request.norm_window
        )
        sentiment = None
        if schema.sentiment:
            if self._sentiment is None:
                raise ConfigurationError("a sentiment model needs a sentiment source, and none is configured")
            sentiment = np.asarray(self._sentiment.values_at(candles.open_time), dtype=np.float64)
        try:
            data = build_dataset(
                candles, schema, sentiment, request.val_fraction, request.test_fraction, request.embargo
            )
        except FeatureSchemaError as e:
            raise ConfigurationError(str(e)) from None
        with tempfile.TemporaryDirectory(prefix="atb-train-") as tmp:
            staging = Path(tmp) / "version"
            staging.mkdir()
            phase("training", f"{data.x_train.shape[0]} windows, at most {request.params.epochs} epochs")
            trained = self._trainer().train(data, request.params, staging, request.tolerance, progress, phase)
            phase("metrics")
            tf = request.timeframe
            meta: dict[str, Any] = {
                "format": METADATA_FORMAT,
                "symbol": str(request.symbol),
                "model_type": request.model_type,
                "timeframe": tf.value,
                "trained_at_ms": trained_at,
                "target": schema.target,
                "data": {
                    "source": "candles",
                    "start_ms": int(candles.start_ms),
                    "end_ms": int(candles.end_ms),
                    "bars": len(candles),
                    "sha256": candles_sha256(candles),
                    **({"sentiment_sha256": _sha256(sentiment)} if sentiment is not None else {}),
                },
                "train_range": split_range(data.train_times, tf),
                "val_range": split_range(data.val_times, tf),
                "test_range": split_range(data.test_times, tf),
                "windows": {
                    "train": int(data.train_times.shape[0]),
                    "val": int(data.val_times.shape[0]),
                    "test": int(data.test_times.shape[0]),
                },
                "hyperparameters": {
                    **dataclasses.asdict(request.params),
                    "window": request.window,
                    "norm_window": request.norm_window,
                    "val_fraction": request.val_fraction,
                    "test_fraction": request.test_fraction,
                    "embargo": request.embargo if request.embargo is not None else request.window,
                },
                "training": {
                    "epochs_run": trained.epochs_run,
                    "seconds": round(trained.training_seconds, 3),
                    "device": trained.device,
                    "mixed_precision": trained.mixed_precision,
                    "onnx_max_abs_diff": trained.onnx_max_abs_diff,
                    "history": trained.history,
                    "notes": list(trained.notes),
                },
                "package_versions": _versions(trained.package_versions),
                "feature_schema_fingerprint": schema.fingerprint,
            }
            staged = ModelInfo(
                ModelRef(str(request.symbol), request.model_type, STAGED_VERSION), staging, meta, schema,
                trained_at, False,
            )  # fmt: skip
            predictor = self._predictors(staged)
            check_schema(staged, predictor)
            meta["metrics"] = self._metrics(data, candles, predictor)
            notes: list[str] = []
            if request.backtest:
                phase("test backtest")
                meta["backtest"] = self._backtest(request, staged, notes)
            verdict, current = self._gate(staged, phase)
            meta["gate"] = {**verdict.to_dict(), "evaluated_at_ms": self._clock(),
                            "latest_then": str(current.ref) if current is not None else None}  # fmt: skip
            phase.stop()
            meta["training"]["wall_seconds"] = round(time.perf_counter() - started, 3)
            meta["training"]["phases"] = dict(phase.seconds)
            ref = ModelRef(str(request.symbol), request.model_type, request.version)
            (staging / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n",
                                                   "utf-8")  # fmt: skip
            info = self._registry.register(staging, ref, promote=False)
        promoted, promotion = False, ""
        if request.promote == "force" or (request.promote == "auto" and verdict.passed):
            promotion = verdict.summary() if verdict.passed else f"forced (--promote force): {verdict.summary()}"
            info = self._registry.promote(info.ref, reason=promotion)
            promoted = True
        elif request.promote == "never":
            promotion = f"not promoted (--promote never); {verdict.summary()}"
        else:
            failed = "; ".join(c.describe() for c in verdict.failures())
            promotion = f"not promoted: fails the promotion gate: {failed}"
        return TrainResult(info, tuple(notes), verdict, promoted, promotion)

    def _gate(self, staged: ModelInfo, phase: _PhaseClock) -> tuple[GateVerdict, ModelInfo | None]:
        """The gate's verdict on the staged version against the current ``latest``."""
        ref = staged.ref
        try:
            current: ModelInfo | None = self._registry.resolve(ref.symbol, ref.model_type)
        except ModelNotFound:
            current = None
        backtest = RunBacktest(
            self._market_data, self._simulator, _WithStaged(self._registry, staged), self._predictors, self._sentiment
        )

        def progress(what: str, done: int, total: int) -> None:
            phase("stress backtests", f"{what} ({done + 1}/{total})" if done < total else "")

        return self.gate.evaluate(staged, current, backtest, progress), current

    @staticmethod
    def _metrics(data: TrainingData, candles: CandleSeries, predictor: Predictor) -> dict[str, Any]:
        returns = next_returns(candles.close)
        out: dict[str, Any] = {}
        for name, x, y, times in (
            ("val", data.x_val, data.y_val, data.val_times),
            ("test", data.x_test, data.y_test, data.test_times),
        ):
            rows = np.searchsorted(candles.open_time, times)
            previous = np.where(rows > 0, returns[np.maximum(rows - 1, 0)], 0.0)
            predicted = predictor.predict(x)
            out[name] = _finite(split_metrics(predicted, y.astype(np.float64), previous))
        return out

    def _backtest(self, request: TrainRequest, staged: ModelInfo, notes: list[str]) -> dict[str, Any]:
        """The model's strategy on the test period (out of sample), next to buy-and-hold."""
        test = staged.metadata["test_range"]
        backtest = RunBacktest(
            self._market_data, self._simulator, _WithStaged(self._registry, staged), self._predictors, self._sentiment
        )
        strategy = STRATEGY_FOR_TYPE[request.model_type]
        report = backtest(
            BacktestRequest(
                strategy=strategy,
                symbols=(request.symbol,),
                timeframe=request.timeframe,
                initial_cash=request.initial_cash,
                start_ms=int(test[0]),
                end_ms=int(test[1]),
                model_version=STAGED_VERSION,
            )
        )
        notes.extend(n for n in report.notes if not n.startswith("range:"))
        keys = ("total_return", "buy_and_hold_return", "sharpe", "max_drawdown", "trades", "win_rate", "exposure_time")
        return {
            "strategy": strategy,
            "range": [int(test[0]), int(test[1])],
            "initial_cash": float(request.initial_cash),
            "metrics": _finite({k: report.metrics[k] for k in keys if k in report.metrics}),
        }


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None (metadata.json is strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
