"""Model training on Keras/TensorFlow with ONNX export (the ``Trainer`` port). TensorFlow loads on first use."""

from adapters.training.keras_trainer import KerasTrainer, package_versions

__all__ = ["KerasTrainer", "package_versions"]
