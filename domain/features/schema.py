"""The feature schema: what a model was trained on, saved beside it and checked before every prediction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from domain.model.errors import DomainError

SCHEMA_FORMAT = 1


class FeatureSchemaError(DomainError):
    """A feature schema is malformed, or two schemas that must agree do not (one line naming the difference)."""


@dataclass(frozen=True, slots=True)
class FeatureSchema:
    """Names and order of a model's input features and how they are computed and normalised.

    ``names``: the feature columns, in the model's input order. ``window``: bars per input window (the
    window ending at bar ``t`` predicts from bar ``t``'s close to bar ``t + 1``'s close). ``dtype``: the
    input dtype (``float32``). ``normalisation``: how each column is scaled, using statistics of the past
    only (e.g. ``rolling_zscore``); ``norm_window`` is the number of past bars those statistics use.
    ``params``: the builder's parameters (indicator periods, clip value, ...), so the same features can be
    rebuilt at inference. ``sentiment``: whether a sentiment column is part of the input.
    ``target``: what the model predicts (``next_return``).
    """

    names: tuple[str, ...]
    window: int
    normalisation: str
    norm_window: int
    params: dict[str, Any] = field(default_factory=dict)
    sentiment: bool = False
    dtype: str = "float32"
    target: str = "next_return"
    format: int = SCHEMA_FORMAT

    def __post_init__(self) -> None:
        if not self.names:
            raise FeatureSchemaError("a feature schema needs at least one feature")
        if len(set(self.names)) != len(self.names):
            raise FeatureSchemaError("a feature is named twice in the schema")
        if self.window < 2:
            raise FeatureSchemaError(f"window must be at least 2 bars, got {self.window}")
        if self.norm_window < 2:
            raise FeatureSchemaError(f"norm_window must be at least 2 bars, got {self.norm_window}")
        if self.dtype != "float32":
            raise FeatureSchemaError(f"only float32 inputs are supported, got {self.dtype}")

    @property
    def n_features(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``feature_schema.json``)."""
        return {
            "format": self.format,
            "names": list(self.names),
            "window": self.window,
            "dtype": self.dtype,
            "normalisation": self.normalisation,
            "norm_window": self.norm_window,
            "params": dict(self.params),
            "sentiment": self.sentiment,
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> FeatureSchema:
        """The schema from :meth:`to_dict`'s output; a malformed dict is a :class:`FeatureSchemaError`."""
        if not isinstance(raw, dict):
            raise FeatureSchemaError("the feature schema is not a JSON object")
        if raw.get("format") != SCHEMA_FORMAT:
            raise FeatureSchemaError(
                f"unsupported feature schema format {raw.get('format')!r} (expected {SCHEMA_FORMAT})"
            )
        try:
            return cls(
                names=tuple(str(n) for n in raw["names"]),
                window=int(raw["window"]),
                dtype=str(raw["dtype"]),
                normalisation=str(raw["normalisation"]),
                norm_window=int(raw["norm_window"]),
                params=dict(raw.get("params", {})),
                sentiment=bool(raw.get("sentiment", False)),
                target=str(raw.get("target", "next_return")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise FeatureSchemaError(f"the feature schema is malformed: {e}") from None

    @property
    def fingerprint(self) -> str:
        """A short hash of the canonical JSON: equal fingerprints mean identical inputs."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def require_same(self, other: FeatureSchema) -> None:
        """Raise :class:`FeatureSchemaError` naming the first difference unless ``other`` is identical."""
        if other == self:
            return
        mine, theirs = self.to_dict(), other.to_dict()
        for key in mine:
            if mine[key] != theirs.get(key):
                raise FeatureSchemaError(
                    f"feature schema mismatch in {key}: the model expects {mine[key]!r}, got {theirs.get(key)!r}"
                )
        raise FeatureSchemaError("feature schema mismatch")
