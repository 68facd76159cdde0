"""The feature schema round-trips through JSON and names the first difference on a mismatch."""

from __future__ import annotations

import json

import pytest

from domain.features import FeatureSchema, FeatureSchemaError, default_schema


def test_round_trip_through_json_keeps_the_schema_and_its_fingerprint() -> None:
    schema = default_schema(sentiment=True)
    again = FeatureSchema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema and again.fingerprint == schema.fingerprint
    again.require_same(schema)


def test_mismatch_names_the_first_difference() -> None:
    a = default_schema(window=120)
    with pytest.raises(FeatureSchemaError, match="window: the model expects 120, got 60"):
        a.require_same(default_schema(window=60))
    with pytest.raises(FeatureSchemaError, match="mismatch in names"):
        a.require_same(default_schema(sentiment=True))
    assert a.fingerprint != default_schema(window=60).fingerprint


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "not a JSON object"),
        ({"format": 99}, "unsupported feature schema format"),
        ({"format": 1, "names": ["a"]}, "malformed"),
        ({**default_schema().to_dict(), "dtype": "float64"}, "only float32"),
        ({**default_schema().to_dict(), "names": ["a", "a"]}, "named twice"),
    ],
)
def test_malformed_dicts_are_schema_errors(raw: object, message: str) -> None:
    with pytest.raises(FeatureSchemaError, match=message):
        FeatureSchema.from_dict(raw)
