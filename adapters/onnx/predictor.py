"""The ``Predictor`` port on ONNX Runtime: a model directory's ``model.onnx`` and ``feature_schema.json``.

Two sessions over the same model: one with a single intra-op thread for single predictions (lowest
latency, no thread-pool wake-ups) and one with ``batch_threads`` for batches, run in chunks of
``chunk_size`` windows. Every call checks the windows against the feature schema first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from application.ports.errors import SchemaMismatch
from application.ports.models import ModelCorrupted, ModelInfo
from application.ports.predictor import InvalidPrediction
from domain.features import FeatureSchema, FeatureSchemaError

MODEL_FILE = "model.onnx"
SCHEMA_FILE = "feature_schema.json"
DEFAULT_CHUNK = 512  # windows per ONNX Runtime call: small chunks stay in cache (measured faster than 4096)


# ONNX Runtime ships no type information: these Protocols state what this module uses of it.
class _OrtOptions(Protocol):
    intra_op_num_threads: int
    inter_op_num_threads: int
    execution_mode: object
    graph_optimization_level: object
    log_severity_level: int

    def add_session_config_entry(self, key: str, value: str) -> None: ...


class _OrtNode(Protocol):
    """An input or output of the graph: ``shape`` has a name or None for a free dimension."""

    name: str
    shape: list[int | str | None]
    type: str


class _OrtSession(Protocol):
    def get_inputs(self) -> list[_OrtNode]: ...

    def get_outputs(self) -> list[_OrtNode]: ...

    def run(self, output_names: list[str] | None, input_feed: dict[str, npt.NDArray[np.float32]]) -> list[object]: ...


def read_schema(path: Path) -> FeatureSchema:
    """``feature_schema.json``; a missing, unreadable or malformed file is :class:`ModelCorrupted` naming it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCorrupted(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelCorrupted(f"{path}: unreadable ({e})") from e
    except json.JSONDecodeError as e:
        raise ModelCorrupted(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from e
    try:
        return FeatureSchema.from_dict(raw)
    except FeatureSchemaError as e:
        raise ModelCorrupted(f"{path}: {e}") from e


def require_finite(predictions: npt.NDArray[np.float64], model: str) -> None:
    """Refuse (:class:`InvalidPrediction`, one line naming ``model``) predictions that are not all finite."""
    bad = np.flatnonzero(~np.isfinite(predictions))
    if bad.size:
        raise InvalidPrediction(
            f"model {model} predicted {predictions[bad[0]]} for window {int(bad[0]) + 1} of {predictions.shape[0]} "
            f"({bad.size} not finite): the model is broken; retrain it (atb train) or pick another version"
        )


def _options(threads: int) -> _OrtOptions:
    options: _OrtOptions = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT's warnings are not for the user
    if threads == 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _session(model: bytes, path: Path, threads: int) -> _OrtSession:
    try:
        session: _OrtSession = ort.InferenceSession(
            model, sess_options=_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # ORT raises its own Fail/InvalidGraph/InvalidProtobuf types (and RuntimeError)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelCorrupted(f"{path}: not a loadable ONNX model ({first})") from e
    return session


class OnnxPredictor:
    """Predicts next-bar returns with ONNX Runtime. Build it with :meth:`load` (or :func:`onnx_predictor`).

    ``predict(windows)``: ``windows`` shaped ``(batch, window, features)`` float32, as the schema says;
    anything else is :class:`SchemaMismatch`. Returns float64, one value per window.
    """

    def __init__(
        self,
        model: bytes,
        schema: FeatureSchema,
        source: Path,
        batch_threads: int = 0,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        self._schema = schema
        self._source = source
        self._model = model
        self._chunk = max(1, int(chunk_size))
        self._batch_threads = batch_threads
        self._single = _session(model, source, 1)
        self._batch: _OrtSession | None = None
        inputs = self._single.get_inputs()
        if len(inputs) != 1 or len(self._single.get_outputs()) != 1:
            raise ModelCorrupted(f"{source}: expected one input and one output, found {len(inputs)} inputs")
        self._input = inputs[0].name
        shape = list(inputs[0].shape)
        expected = (schema.window, schema.n_features)
        if len(shape) != 3 or tuple(shape[1:]) != expected:
            raise SchemaMismatch(
                f"{source}: the model's input shape {shape} does not match its feature schema "
                f"(batch, {schema.window}, {schema.n_features})"
            )
        if inputs[0].type != "tensor(float)":
            raise SchemaMismatch(f"{source}: the model's input is {inputs[0].type}, the schema says float32")

    @classmethod
    def load(cls, model_dir: Path, batch_threads: int = 0, chunk_size: int = DEFAULT_CHUNK) -> OnnxPredictor:
        """The model in ``model_dir`` (``model.onnx`` + ``feature_schema.json``). Raises
        :class:`ModelCorrupted` naming a missing or broken file, :class:`SchemaMismatch` when the model's input
        shape disagrees with the schema."""
        model_dir = Path(model_dir)
        schema = read_schema(model_dir / SCHEMA_FILE)
        path = model_dir / MODEL_FILE
        try:
            model = path.read_bytes()
        except FileNotFoundError:
            raise ModelCorrupted(f"{path}: missing") from None
        except OSError as e:
            raise ModelCorrupted(f"{path}: unreadable ({e})") from e
        if not model:
            raise ModelCorrupted(f"{path}: empty file")
        return cls(model, schema, path, batch_threads=batch_threads, chunk_size=chunk_size)

    @property
    def schema(self) -> FeatureSchema:
        return self._schema

    @property
    def source(self) -> Path:
        """The ``model.onnx`` this predictor runs."""
        return self._source

    def _check(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        s = self._schema
        if not isinstance(windows, np.ndarray):
            raise SchemaMismatch(f"windows must be a numpy array, got {type(windows).__name__}")
        if windows.ndim != 3:
            raise SchemaMismatch(
                f"windows must be 3-dimensional (batch, {s.window}, {s.n_features}), got shape {windows.shape}"
            )
        if windows.shape[1] != s.window:
            raise SchemaMismatch(f"windows hold {windows.shape[1]} bars; the model's schema says {s.window}")
        if windows.shape[2] != s.n_features:
            raise SchemaMismatch(
                f"windows hold {windows.shape[2]} features; the model's schema says {s.n_features} "
                f"({', '.join(s.names)})"
            )
        if windows.dtype != np.float32:
            raise SchemaMismatch(f"windows are {windows.dtype}; the model's schema says {s.dtype}")
        return np.ascontiguousarray(windows)

    def _run(self, session: _OrtSession, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        out = np.asarray(session.run(None, {self._input: x})[0], dtype=np.float64).reshape(x.shape[0])
        require_finite(out, str(self._source))
        return out

    def predict(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        x = self._check(windows)
        n = x.shape[0]
        if n == 0:
            return np.empty(0, dtype=np.float64)
        if n == 1:
            return self._run(self._single, x)
        if self._batch is None:
            self._batch = _session(self._model, self._source, self._batch_threads)
        out = np.empty(n, dtype=np.float64)
        for start in range(0, n, self._chunk):
            stop = min(n, start + self._chunk)
            out[start:stop] = self._run(self._batch, x[start:stop])
        return out

    def predict_one(self, window: npt.NDArray[np.float32]) -> float:
        """One window shaped ``(window, features)``: the latest prediction in live trading."""
        if not isinstance(window, np.ndarray) or window.ndim != 2:
            shape = getattr(window, "shape", None)
            raise SchemaMismatch(f"a single window must be 2-dimensional (bars, features), got shape {shape}")
        return float(self.predict(window[np.newaxis])[0])


def onnx_predictor(info: ModelInfo) -> OnnxPredictor:
    """A ``PredictorFactory``: the registered model ``info`` on ONNX Runtime, its schema checked against the
    registry's copy."""
    predictor = OnnxPredictor.load(info.path)
    try:
        info.schema.require_same(predictor.schema)
    except FeatureSchemaError as e:
        raise SchemaMismatch(f"{info.ref}: {e}") from e
    return predictor
