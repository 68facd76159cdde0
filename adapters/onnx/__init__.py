"""Model inference on ONNX Runtime (the ``Predictor`` port)."""

from adapters.onnx.predictor import OnnxPredictor, onnx_predictor, read_schema

__all__ = ["OnnxPredictor", "onnx_predictor", "read_schema"]
