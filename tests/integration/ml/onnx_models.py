"""Hand-built ONNX models and registry staging directories for tests that need no TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from domain.features import FeatureSchema, default_schema

SMALL_SCHEMA = default_schema(window=8, norm_window=20)


def linear_model(schema: FeatureSchema, seed: int = 0, window: int | None = None, features: int | None = None) -> bytes:
    """``windows (batch, window, F) -> flatten @ w -> (batch, 1)``, opset 17. ``window``/``features`` override the
    input shape (to build a model that disagrees with its schema)."""
    w_len = window if window is not None else schema.window
    f_len = features if features is not None else schema.n_features
    weights = np.random.default_rng(seed).normal(0.0, 0.01, (w_len * f_len, 1)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["windows"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["out"]),
        ],
        "linear",
        [helper.make_tensor_value_info("windows", TensorProto.FLOAT, [None, w_len, f_len])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_model_dir(
    path: Path, schema: FeatureSchema = SMALL_SCHEMA, seed: int = 0, metadata: dict[str, object] | None = None
) -> Path:
    """A complete staging directory: model.onnx, model.keras (a placeholder), feature_schema.json, metadata.json."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "model.onnx").write_bytes(linear_model(schema, seed))
    (path / "model.keras").write_bytes(b"placeholder: the registry copies it, nothing here loads it")
    (path / "feature_schema.json").write_text(json.dumps(schema.to_dict()))
    (path / "metadata.json").write_text(json.dumps(metadata or {"seed": seed}))
    return path


def windows(n: int, schema: FeatureSchema = SMALL_SCHEMA, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, schema.window, schema.n_features)).astype(np.float32)
