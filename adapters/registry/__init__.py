"""Versioned model files on disk (the ``ModelRegistry`` port), with the models bundled with atb."""

from importlib import resources
from pathlib import Path

from adapters.registry.file_registry import MODEL_FILES, FileModelRegistry


def bundled_models_root() -> Path:
    """The read-only registry tree shipped inside the package (``adapters/registry/bundled``)."""
    return Path(str(resources.files("adapters.registry").joinpath("bundled")))


__all__ = ["MODEL_FILES", "FileModelRegistry", "bundled_models_root"]
