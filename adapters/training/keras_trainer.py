"""The ``Trainer`` port on Keras 3 / TensorFlow: a CNN+LSTM regressor, exported to ONNX with tf2onnx.

Model: ``Input(window, F) → Conv1D(conv_filters, kernel_size, causal padding, ReLU) → LSTM(lstm_units) →
Dropout → Dense(1) → Rescaling(y_std, y_mean)``. The last layer is fixed (not trained): the network learns
a unit-scale output and the model returns next-bar returns directly, in the units of ``TrainingData.y``.
Loss: mean squared error; Adam; early stopping on the validation loss, best weights restored.

Reproducible: ``keras.utils.set_random_seed(seed)`` and TensorFlow's deterministic ops, so the same data,
parameters and package versions give the same weights on the same machine. Mixed precision
(``mixed_float16``) only on a GPU of compute capability 7.0 or more; on a CPU it is off and the
``TrainedModel`` says so.

Export: ``tf2onnx.convert.from_function`` on a ``tf.function`` with the input signature
``(None, window, F)`` float32, opset 17 (``from_keras`` fails on Keras 3 models). The export is then run by
ONNX Runtime on the validation windows and compared with Keras: a max abs difference above the tolerance
removes the files written and raises ``ModelRefused``.

TensorFlow is imported inside :meth:`KerasTrainer.train` only, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np
import numpy.typing as npt

from application.ports.errors import ConfigurationError
from application.ports.models import ModelRefused, TrainedModel, TrainingParams
from domain.features import TrainingData

KERAS_FILE = "model.keras"
ONNX_FILE = "model.onnx"
SCHEMA_FILE = "feature_schema.json"
OPSET = 17
PARITY_CHUNK = 4096
_PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")

Progress = Callable[[int, int, dict[str, float]], None]
Status = Callable[[str, str], None]

if TYPE_CHECKING:  # annotations only: TensorFlow is imported when a training starts
    import tensorflow as tf


# Keras 3, tf2onnx and ONNX Runtime ship no type information: these Protocols state what this module uses of them.
class _History(Protocol):
    history: dict[str, list[float]]


class _KerasModel(Protocol):
    def fit(self, x: npt.ArrayLike, y: npt.ArrayLike, **options: object) -> _History: ...

    def save(self, filepath: Path) -> None: ...

    def __call__(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor: ...


class _Serve(Protocol):
    """The traced ``tf.function`` that is exported: windows ``(n, window, F)`` float32 in, ``(n, 1)`` out."""

    def __call__(self, windows: npt.NDArray[np.float32]) -> tf.Tensor: ...


class _OrtInput(Protocol):
    name: str


class _OrtSession(Protocol):
    def get_inputs(self) -> list[_OrtInput]: ...

    def run(self, output_names: list[str] | None, input_feed: dict[str, npt.NDArray[np.float32]]) -> list[object]: ...


def package_versions() -> dict[str, str]:
    """Versions of the packages a model depends on (those installed), and Python's."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _check_data(data: TrainingData) -> None:
    schema = data.schema
    expected = (schema.window, schema.n_features)
    for split in ("train", "val"):
        x = getattr(data, f"x_{split}")
        y = getattr(data, f"y_{split}")
        if x.ndim != 3 or x.shape[1:] != expected:
            raise ConfigurationError(
                f"x_{split} is shaped {x.shape}; the schema says (n, {expected[0]}, {expected[1]})"
            )
        if x.shape[0] == 0:
            raise ConfigurationError(f"the {split} split is empty")
        if y.shape != (x.shape[0],):
            raise ConfigurationError(f"y_{split} is shaped {y.shape}; expected ({x.shape[0]},)")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ConfigurationError(f"the {split} split holds NaN or infinite values")


class KerasTrainer:
    """Trains the CNN+LSTM model (see the module docstring) and leaves a checked export in ``staging_dir``.

    ``verbose``: Keras' own per-epoch output (0: none; progress goes to the ``progress`` callback).
    """

    def __init__(self, verbose: int = 0) -> None:
        self._verbose = verbose

    def train(
        self,
        data: TrainingData,
        params: TrainingParams,
        staging_dir: Path,
        tolerance: float = 1e-4,
        progress: Progress | None = None,
        status: Status | None = None,
    ) -> TrainedModel:
        _check_data(data)
        if params.epochs < 1 or params.batch_size < 1:
            raise ConfigurationError("epochs and batch_size must be at least 1")
        staging = Path(staging_dir)
        staging.mkdir(parents=True, exist_ok=True)
        written = [staging / KERAS_FILE, staging / ONNX_FILE, staging / SCHEMA_FILE]
        try:
            with _native_stderr_captured():
                return self._train(data, params, staging, tolerance, progress, status or _no_status)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise

    def _train(
        self,
        data: TrainingData,
        params: TrainingParams,
        staging: Path,
        tolerance: float,
        progress: Progress | None,
        status: Status,
    ) -> TrainedModel:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        notes: list[str] = []
        self._threads(params.threads, notes)
        keras.utils.set_random_seed(params.seed)
        try:
            tf.config.experimental.enable_op_determinism()
        except (AttributeError, RuntimeError) as e:  # pragma: no cover - older TensorFlow
            notes.append(f"deterministic ops unavailable: {e}")
        device, mixed = self._device(params.mixed_precision, notes)

        schema = data.schema
        y_mean = float(np.mean(data.y_train, dtype=np.float64))
        y_std = float(np.std(data.y_train, dtype=np.float64)) or 1.0
        model = build_model(schema.window, schema.n_features, params, y_mean, y_std, mixed)
        callbacks: list[object] = [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=params.patience, restore_best_weights=True),
            keras.callbacks.TerminateOnNaN(),
        ]
        if progress is not None:
            epochs = params.epochs

            def on_epoch_end(epoch: int, logs: dict[str, float] | None = None) -> None:
                progress(epoch + 1, epochs, {k: float(v) for k, v in (logs or {}).items()})

            callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end))
        started = time.perf_counter()
        try:
            fitted = model.fit(
                data.x_train,
                data.y_train,
                validation_data=(data.x_val, data.y_val),
                epochs=params.epochs,
                batch_size=params.batch_size,
                shuffle=True,
                callbacks=callbacks,
                verbose=self._verbose,
            )
        except (tf.errors.OpError, ValueError, RuntimeError) as e:
            raise ModelRefused(f"training failed: {_first_line(e)}") from e
        seconds = time.perf_counter() - started
        history = {k: [float(v) for v in values] for k, values in fitted.history.items()}
        losses = history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            raise ModelRefused("training diverged (the loss became NaN or infinite); try a lower learning rate")

        status("export", "model.keras and model.onnx")
        try:
            with warnings.catch_warnings():
                # Keras 3.15 saving TensorFlow variables trips NumPy 2's __array__(copy=...) deprecation; harmless.
                warnings.filterwarnings("ignore", message=r"__array__ implementation", category=DeprecationWarning)
                model.save(staging / KERAS_FILE)
        except (OSError, ValueError) as e:
            raise ModelRefused(f"could not save {staging / KERAS_FILE}: {_first_line(e)}") from e
        serve = export_onnx(model, schema.window, schema.n_features, staging / ONNX_FILE)
        status("parity", f"Keras vs ONNX Runtime on {data.x_val.shape[0]} validation windows")
        diff = onnx_parity(serve, staging / ONNX_FILE, data.x_val)
        if not diff <= tolerance:
            raise ModelRefused(
                f"the ONNX export disagrees with Keras on the validation windows: max abs difference {diff:.3g} "
                f"> tolerance {tolerance:g}; the model was not kept"
            )
        (staging / SCHEMA_FILE).write_text(json.dumps(schema.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")
        return TrainedModel(
            staging_dir=staging,
            onnx_max_abs_diff=diff,
            epochs_run=len(losses),
            training_seconds=seconds,
            history=history,
            package_versions=package_versions(),
            mixed_precision=mixed,
            device=device,
            notes=tuple(notes),
        )

    @staticmethod
    def _threads(threads: int, notes: list[str]) -> None:
        if threads <= 0:
            return
        import tensorflow as tf

        cfg = tf.config.threading
        if cfg.get_intra_op_parallelism_threads() == threads and cfg.get_inter_op_parallelism_threads() == threads:
            return
        try:
            cfg.set_intra_op_parallelism_threads(threads)
            cfg.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            # TensorFlow fixes its thread pools when its runtime starts: a second training in the same process
            # keeps the first one's setting.
            notes.append(f"threads={threads} not applied: TensorFlow was already initialised in this process")

    @staticmethod
    def _device(wanted: bool, notes: list[str]) -> tuple[str, bool]:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            if wanted:
                notes.append("mixed precision off: no GPU (float16 on a CPU is slower, not faster)")
            return "CPU", False
        # TensorFlow's stubs leave get_device_details untyped; it returns a dict of strings and a version pair.
        details: dict[str, object] = tf.config.experimental.get_device_details(gpus[0])
        name = str(details.get("device_name", "GPU"))
        capability = cast(tuple[int, int], details.get("compute_capability") or (0, 0))
        device = f"GPU ({name}, compute capability {capability[0]}.{capability[1]})"
        if wanted and tuple(capability) >= (7, 0):
            return device, True
        if wanted:
            notes.append(f"mixed precision off: {name} has no fast float16 (compute capability < 7.0)")
        return device, False


def build_model(
    window: int, n_features: int, params: TrainingParams, y_mean: float, y_std: float, mixed: bool
) -> _KerasModel:
    """The compiled CNN+LSTM. ``mixed``: float16 compute in the hidden layers, float32 output."""
    import keras

    policy = "mixed_float16" if mixed else "float32"
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((window, n_features), dtype="float32", name="windows"),
            layers.Conv1D(params.conv_filters, params.kernel_size, padding="causal", activation="relu", dtype=policy),
            layers.LSTM(params.lstm_units, dtype=policy),
            layers.Dropout(params.dropout, dtype=policy),
            layers.Dense(1, dtype="float32"),
            layers.Rescaling(scale=y_std, offset=y_mean, dtype="float32", name="to_returns"),
        ],
        name="cnn_lstm",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate), loss="mse", jit_compile=False)
    compiled: _KerasModel = model
    return compiled


def export_onnx(model: _KerasModel, window: int, n_features: int, path: Path) -> _Serve:
    """Write ``model`` as ONNX (opset 17) to ``path``; returns the ``tf.function`` that was converted."""
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, window, n_features), tf.float32, name="windows"),)

    def forward(windows: tf.Tensor) -> tf.Tensor:
        return model(windows, training=False)

    # tf.function as a call, not a decorator: TensorFlow's stubs leave it untyped, _Serve says what it returns.
    serve: _Serve = tf.function(forward, input_signature=spec)
    try:
        tf2onnx.convert.from_function(serve, input_signature=spec, opset=OPSET, output_path=str(path))
    except Exception as e:  # tf2onnx raises bare Exceptions, ValueErrors and KeyErrors from its graph passes
        raise ModelRefused(f"the ONNX export failed: {_first_line(e)}") from e
    return serve


def onnx_parity(serve: _Serve, path: Path, windows: npt.NDArray[np.float32]) -> float:
    """Max abs difference between ``serve`` (Keras) and the ONNX file on ``windows``."""
    import onnxruntime as ort

    try:
        session: _OrtSession = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT's own exception types
        raise ModelRefused(f"the ONNX export does not load in ONNX Runtime: {_first_line(e)}") from e
    name = session.get_inputs()[0].name
    worst = 0.0
    for start in range(0, windows.shape[0], PARITY_CHUNK):
        chunk = np.ascontiguousarray(windows[start : start + PARITY_CHUNK])
        keras_out = np.asarray(serve(chunk), dtype=np.float64).reshape(-1)
        onnx_out = np.asarray(session.run(None, {name: chunk})[0], dtype=np.float64).reshape(-1)
        if keras_out.shape != onnx_out.shape:
            raise ModelRefused(f"the ONNX export returns {onnx_out.shape[0]} values for {chunk.shape[0]} windows")
        diff = np.abs(keras_out - onnx_out)
        if not np.isfinite(diff).all():
            return math.inf
        worst = max(worst, float(diff.max()))
    return worst


def _no_status(phase: str, detail: str) -> None:
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[None]:
    """Keep TensorFlow's C++ start-up notes (oneDNN, absl, tf.data attribute warnings) off the terminal.

    The C++ runtime writes them to file descriptor 2 before any Python-level log setting applies, so fd 2
    points at a temporary file while TensorFlow runs; Python's ``sys.stderr`` (progress, warnings) keeps
    writing to the real terminal. When training fails, what was caught is written out after all.
    """
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to keep clean
        yield
        return
    python_stderr = sys.stderr
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(real), "wb"), write_through=True)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = python_stderr
            os.dup2(real, 2)
            os.close(real)
            if failed:
                sink.seek(0)
                caught = sink.read().decode(errors="replace")
                if caught.strip():
                    python_stderr.write(caught)
                    python_stderr.flush()
