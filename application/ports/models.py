"""Trained models: the versioned registry ``{SYMBOL}/{TYPE}/{VERSION}`` and the trainer that fills it."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from application.ports.errors import ApplicationError
from application.ports.predictor import Predictor
from domain.features import FeatureSchema, TrainingData

MODEL_TYPES = ("basic", "sentiment")


class ModelNotFound(ApplicationError):
    """No model (or no such version) in the registry; the message says what is there."""


class ModelCorrupted(ApplicationError):
    """A model's files are missing, truncated or unreadable; the message names the file."""


class ModelRefused(ApplicationError):
    """A model failed a check that guards the registry (ONNX parity, promotion stress test, ...)."""


@dataclass(frozen=True, slots=True)
class ModelRef:
    """Where a model lives in the registry. ``model_type`` is one of :data:`MODEL_TYPES`."""

    symbol: str
    model_type: str
    version: str

    def __str__(self) -> str:
        return f"{self.symbol}/{self.model_type}/{self.version}"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A registered model: its reference, its directory, ``metadata.json`` and ``feature_schema.json``.

    ``registered_ms``: when the version was registered (UTC ms). ``is_latest``: whether ``latest``
    points at it now.
    """

    ref: ModelRef
    path: Path
    metadata: dict[str, Any]
    schema: FeatureSchema
    registered_ms: int
    is_latest: bool


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One change of the ``latest`` pointer (promotion, rollback) or a deletion, as logged by the registry."""

    at_ms: int
    action: str  # "register", "promote", "rollback", "delete"
    ref: ModelRef
    previous: str | None  # the version ``latest`` pointed at before, if any
    reason: str = ""


class ModelRegistry(Protocol):
    """Model versions on disk under a root directory: ``{SYMBOL}/{TYPE}/{VERSION}/`` with a ``latest`` pointer.

    A version directory holds ``model.keras``, ``model.onnx``, ``metadata.json`` and
    ``feature_schema.json``. Writes are atomic: a reader sees a whole version or none, and ``latest``
    always names a whole version. Every pointer change is logged (:meth:`history`).
    """

    def list(self, symbol: str | None = None, model_type: str | None = None) -> list[ModelInfo]:
        """Registered versions, oldest first, optionally filtered."""
        ...

    def resolve(
        self, symbol: str, model_type: str, version: str | None = None, as_of_ms: int | None = None
    ) -> ModelInfo:
        """A version: named, else the one ``latest`` pointed at ``as_of_ms`` (UTC ms), else ``latest`` now.

        Raises ``ModelNotFound`` listing what exists.
        """
        ...

    def register(self, staging_dir: Path, ref: ModelRef, promote: bool = True) -> ModelInfo:
        """Move a complete version from ``staging_dir`` into place (atomically), optionally making it latest."""
        ...

    def promote(self, ref: ModelRef, reason: str = "") -> ModelInfo:
        """Point ``latest`` at ``ref`` (atomically) and log it."""
        ...

    def rollback(self, symbol: str, model_type: str, reason: str = "") -> ModelInfo:
        """Point ``latest`` back at the version it named before the last promotion, and log it."""
        ...

    def delete(self, ref: ModelRef) -> None:
        """Remove a version that ``latest`` does not point at (refused for the latest one)."""
        ...

    def history(self, symbol: str, model_type: str) -> builtins.list[RegistryEvent]:
        """Every logged change for ``symbol``/``model_type``, oldest first."""
        ...


PredictorFactory = Callable[[ModelInfo], Predictor]
"""Loads a registered model for inference; raises ``ModelCorrupted`` or ``SchemaMismatch`` with one line."""


@dataclass(frozen=True, slots=True)
class TrainingParams:
    """Hyper-parameters of the CNN+LSTM model and its training (seeded: same data + params = same model)."""

    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    conv_filters: int = 32
    kernel_size: int = 5
    lstm_units: int = 32
    dropout: float = 0.1
    patience: int = 4
    seed: int = 42
    mixed_precision: bool = True  # used only where the hardware supports it
    threads: int = 0  # 0: TensorFlow's default


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """What a trainer leaves in ``staging_dir``: a complete version directory, ONNX parity already checked."""

    staging_dir: Path
    onnx_max_abs_diff: float
    epochs_run: int
    training_seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    package_versions: dict[str, str] = field(default_factory=dict)
    mixed_precision: bool = False  # whether training used float16 compute (only where the hardware supports it)
    device: str = "CPU"  # what trained it, e.g. "CPU" or "GPU (NVIDIA H100, compute capability 9.0)"
    notes: tuple[str, ...] = ()  # one line each: settings asked for and not applied, and why


class Trainer(Protocol):
    """Trains a model on :class:`TrainingData`, exports it to ONNX and checks the export.

    ``train`` writes ``model.keras``, ``model.onnx`` and ``feature_schema.json`` into ``staging_dir``
    (the caller adds ``metadata.json``), and raises ``ModelRefused`` when ONNX and Keras disagree on the
    validation windows by more than ``tolerance`` (max absolute difference). ``progress(epoch, epochs, logs)``
    after each epoch; ``status(phase, detail)`` when the export (``"export"``) and the parity check
    (``"parity"``) start.
    """

    def train(
        self,
        data: TrainingData,
        params: TrainingParams,
        staging_dir: Path,
        tolerance: float = 1e-4,
        progress: Callable[[int, int, dict[str, float]], None] | None = None,
        status: Callable[[str, str], None] | None = None,
    ) -> TrainedModel: ...
