"""Model predictions (served by ONNX Runtime)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from domain.features import FeatureSchema


class Predictor(Protocol):
    """Predicts the next-bar return from feature windows.

    ``predict`` takes windows shaped ``(batch, window, features)`` (float32, features in the order of the
    model's schema) and returns one prediction per window (float64). It raises ``SchemaMismatch`` when
    the windows' shape or dtype does not match the model's feature schema. Pure: the same windows give the
    same values, whether predicted one at a time (live) or in one batch (backtest).
    """

    @property
    def schema(self) -> FeatureSchema: ...

    def predict(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]: ...
