"""In-memory doubles of the model ports: a registry, a predictor (and its factory), a trainer, a sentiment source.

``FakePredictor`` is a pure function of the windows (so batch and single predictions agree): the mean of
the first feature over the window's last ``lookback`` rows, times ``gain``, plus ``bias``. A registered
model's metadata may carry ``fake_gain`` / ``fake_bias``, which :func:`fake_predictor_factory` uses, so two
versions can predict differently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from application.ports.errors import SchemaMismatch
from application.ports.models import (
    ModelInfo,
    ModelNotFound,
    ModelRef,
    ModelRefused,
    RegistryEvent,
    TrainedModel,
    TrainingParams,
)
from domain.features import FeatureSchema, TrainingData

FAKE_DATA_SHA256 = "0123456789abcdef" * 4  # the data hash fake models record (64 hex digits)


class FakePredictor:
    def __init__(self, schema: FeatureSchema, gain: float = 0.002, bias: float = 0.0, lookback: int = 3) -> None:
        self._schema = schema
        self.gain = gain
        self.bias = bias
        self.lookback = lookback
        self.calls: list[int] = []  # batch size of every call

    @property
    def schema(self) -> FeatureSchema:
        return self._schema

    def predict(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        s = self._schema
        if windows.ndim != 3 or windows.shape[1:] != (s.window, s.n_features) or windows.dtype != np.float32:
            raise SchemaMismatch(f"fake predictor: windows {windows.shape} {windows.dtype} do not fit the schema")
        self.calls.append(int(windows.shape[0]))
        recent = windows[:, -self.lookback :, 0].astype(np.float64)
        out: npt.NDArray[np.float64] = self.bias + self.gain * recent.mean(axis=1)
        return out


def fake_predictor_factory(created: list[FakePredictor] | None = None) -> Any:
    """A ``PredictorFactory`` building :class:`FakePredictor` from the model's schema and fake metadata."""

    def load(info: ModelInfo) -> FakePredictor:
        meta = info.metadata
        predictor = FakePredictor(
            info.schema, gain=float(meta.get("fake_gain", 0.002)), bias=float(meta.get("fake_bias", 0.0))
        )
        if created is not None:
            created.append(predictor)
        return predictor

    return load


@dataclass
class FakeModelRegistry:
    """The ``ModelRegistry`` port in memory. ``clock`` gives registration and event times (UTC ms)."""

    now: int = 1_700_000_000_000
    models: dict[tuple[str, str, str], ModelInfo] = field(default_factory=dict)
    latest: dict[tuple[str, str], str] = field(default_factory=dict)
    events: list[RegistryEvent] = field(default_factory=list)

    def tick(self, ms: int = 1000) -> int:
        self.now += ms
        return self.now

    def add(
        self,
        symbol: str,
        model_type: str,
        version: str,
        schema: FeatureSchema,
        metadata: dict[str, Any] | None = None,
        promote: bool = True,
    ) -> ModelInfo:
        """Register a version directly (no files). As ``atb train`` does, the metadata records the schema's
        fingerprint and a data hash unless ``metadata`` says otherwise (the ranges are the test's to give)."""
        ref = ModelRef(symbol, model_type, version)
        at = self.tick()
        provenance = {"feature_schema_fingerprint": schema.fingerprint, "data": {"sha256": FAKE_DATA_SHA256}}
        meta = {"timeframe": "1h", **provenance, **(metadata or {}), "symbol": symbol, "model_type": model_type,
                "version": version}  # fmt: skip
        self.models[(symbol, model_type, version)] = ModelInfo(ref, Path(f"/fake/{ref}"), meta, schema, at, False)
        self.events.append(RegistryEvent(at, "register", ref, self.latest.get((symbol, model_type))))
        if promote:
            self.promote(ref)
        return self._info(ref)

    def _info(self, ref: ModelRef) -> ModelInfo:
        info = self.models[(ref.symbol, ref.model_type, ref.version)]
        return replace(info, is_latest=self.latest.get((ref.symbol, ref.model_type)) == ref.version)

    def _versions(self, symbol: str, model_type: str) -> list[str]:
        return [v for (s, t, v) in self.models if (s, t) == (symbol, model_type)]

    def list(self, symbol: str | None = None, model_type: str | None = None) -> list[ModelInfo]:
        found = [
            self._info(info.ref)
            for (s, t, _), info in self.models.items()
            if (symbol is None or s == symbol) and (model_type is None or t == model_type)
        ]
        return sorted(found, key=lambda i: (i.ref.symbol, i.ref.model_type, i.registered_ms))

    def resolve(
        self, symbol: str, model_type: str, version: str | None = None, as_of_ms: int | None = None
    ) -> ModelInfo:
        if version is None and as_of_ms is not None:
            version = None
            for e in self.events:
                same = (e.ref.symbol, e.ref.model_type) == (symbol, model_type)
                if same and e.action in ("promote", "rollback") and e.at_ms <= as_of_ms:
                    version = e.ref.version
            if version is None:
                raise ModelNotFound(f"no {symbol}/{model_type} model was latest then")
        elif version is None:
            version = self.latest.get((symbol, model_type))
            if version is None:
                raise ModelNotFound(f"no latest {symbol}/{model_type} model; has {self._versions(symbol, model_type)}")
        if (symbol, model_type, version) not in self.models:
            raise ModelNotFound(f"no model {symbol}/{model_type}/{version}; has {self._versions(symbol, model_type)}")
        return self._info(ModelRef(symbol, model_type, version))

    def register(self, staging_dir: Path, ref: ModelRef, promote: bool = True) -> ModelInfo:
        staging = Path(staging_dir)
        for name in ("model.onnx", "metadata.json", "feature_schema.json"):
            if not (staging / name).is_file():
                raise ModelRefused(f"{staging} is not a complete model: missing {name}")
        metadata = json.loads((staging / "metadata.json").read_text())
        schema = FeatureSchema.from_dict(json.loads((staging / "feature_schema.json").read_text()))
        version = ref.version or f"v{len(self._versions(ref.symbol, ref.model_type)) + 1}"
        if (ref.symbol, ref.model_type, version) in self.models:
            raise ModelRefused(f"{ref} already exists")
        return self.add(ref.symbol, ref.model_type, version, schema, metadata, promote)

    def promote(self, ref: ModelRef, reason: str = "") -> ModelInfo:
        key = (ref.symbol, ref.model_type)
        if (ref.symbol, ref.model_type, ref.version) not in self.models:
            raise ModelNotFound(f"no model {ref}")
        previous = self.latest.get(key)
        self.latest[key] = ref.version
        self.events.append(RegistryEvent(self.tick(), "promote", ref, previous, reason))
        return self._info(ref)

    def rollback(self, symbol: str, model_type: str, reason: str = "") -> ModelInfo:
        key = (symbol, model_type)
        promotions = [e for e in self.events if (e.ref.symbol, e.ref.model_type) == key and e.action == "promote"]
        if not promotions or promotions[-1].previous is None:
            raise ModelRefused(f"nothing to roll back to for {symbol}/{model_type}")
        target = ModelRef(symbol, model_type, promotions[-1].previous)
        current = self.latest.get(key)
        self.latest[key] = target.version
        self.events.append(RegistryEvent(self.tick(), "rollback", target, current, reason))
        return self._info(target)

    def delete(self, ref: ModelRef) -> None:
        if self.latest.get((ref.symbol, ref.model_type)) == ref.version:
            raise ModelRefused(f"{ref} is latest; promote another version first")
        if self.models.pop((ref.symbol, ref.model_type, ref.version), None) is None:
            raise ModelNotFound(f"no model {ref}")
        self.events.append(RegistryEvent(self.tick(), "delete", ref, None))

    def history(self, symbol: str, model_type: str) -> list[RegistryEvent]:
        return [e for e in self.events if (e.ref.symbol, e.ref.model_type) == (symbol, model_type)]


class FakeTrainer:
    """Writes a placeholder model (``model.onnx`` is not a real network) and the schema; records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[TrainingData, TrainingParams]] = []

    def train(
        self,
        data: TrainingData,
        params: TrainingParams,
        staging_dir: Path,
        tolerance: float = 1e-4,
        progress: Any = None,
        status: Any = None,
    ) -> TrainedModel:
        self.calls.append((data, params))
        staging = Path(staging_dir)
        (staging / "model.keras").write_bytes(b"fake keras")
        (staging / "model.onnx").write_bytes(b"fake onnx")
        (staging / "feature_schema.json").write_text(json.dumps(data.schema.to_dict()))
        for epoch in range(1, params.epochs + 1):
            if progress is not None:
                progress(epoch, params.epochs, {"loss": 1.0 / epoch, "val_loss": 2.0 / epoch})
        for phase in ("export", "parity"):
            if status is not None:
                status(phase, "")
        return TrainedModel(staging, 0.0, params.epochs, 0.5, {"loss": [1.0]}, {"tensorflow": "fake"})


class FakeSentiment:
    """A sentiment index known from ``first_ms`` on: a slow wave between 10 and 90."""

    def __init__(self, first_ms: int = 0) -> None:
        self.first_ms = first_ms

    def values_at(self, open_times: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        days = np.asarray(open_times, dtype=np.int64) // 86_400_000
        values = 50.0 + 40.0 * np.sin(days / 7.0)
        values[np.asarray(open_times) < self.first_ms] = np.nan
        out: npt.NDArray[np.float64] = values.astype(np.float64)
        return out
