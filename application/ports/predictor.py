"""Model predictions (served by ONNX Runtime)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from application.ports.errors import ApplicationError
from domain.features import FeatureSchema


class InvalidPrediction(ApplicationError):
    """A model predicted a value that is not a finite number (NaN, an infinity): the model is broken, and no
    decision may be taken on its output. The message names the model and the first bad window."""


class Predictor(Protocol):
    """Predicts the next-bar return from feature windows.

    ``predict`` takes windows shaped ``(batch, window, features)`` (float32, features in the order of the
    model's schema) and returns one prediction per window (float64). It raises ``SchemaMismatch`` when
    the windows' shape or dtype does not match the model's feature schema. Pure: the same windows give the
    same values, whether predicted one at a time (live) or in one batch (backtest). Every value returned is
    finite: a prediction that is not is :class:`InvalidPrediction`, never passed on.
    """

    @property
    def schema(self) -> FeatureSchema: ...

    def predict(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]: ...
