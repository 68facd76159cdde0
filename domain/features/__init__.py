"""Model features: causal, normalised with past statistics only, shared by training and inference."""

from domain.features.builder import (
    BASIC_FEATURES,
    SENTIMENT_FEATURES,
    build_features,
    default_schema,
    feature_warmup,
    next_returns,
    rolling_zscore,
    sliding_windows,
    window_end_rows,
)
from domain.features.dataset import InsufficientData, TrainingData, build_dataset, split_end_rows
from domain.features.schema import FeatureSchema, FeatureSchemaError

__all__ = [
    "BASIC_FEATURES",
    "SENTIMENT_FEATURES",
    "FeatureSchema",
    "FeatureSchemaError",
    "InsufficientData",
    "TrainingData",
    "build_dataset",
    "build_features",
    "default_schema",
    "feature_warmup",
    "next_returns",
    "rolling_zscore",
    "sliding_windows",
    "split_end_rows",
    "window_end_rows",
]
