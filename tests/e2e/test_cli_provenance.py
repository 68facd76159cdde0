"""Provenance required (issue #13, point 7; ADR 0016): a model whose metadata does not record its training and
validation ranges, feature schema and data hash is refused without --allow-unverified-model, and with it every
report (text, JSON, HTML, compare) warns. The registry is a copy of a bundled model in a temporary directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import FileModelRegistry, bundled_models_root
from application.ml import PROVENANCE, UNVERIFIED_PREFIX, missing_provenance
from tests.e2e.test_cli import assert_one_error_line, run_main

RANGE = ("--start", "2021-05-01", "--end", "2021-06-01")
VERSION = "copy"


def _bundled_basic() -> Path:
    base = bundled_models_root() / "BTCUSDT" / "basic"
    return next(p for p in sorted(base.iterdir()) if (p / "metadata.json").is_file())


def _without(metadata: dict[str, Any], field: str) -> dict[str, Any]:
    """``metadata`` less one PROVENANCE entry (``data.sha256``: the key inside ``data``)."""
    out = json.loads(json.dumps(metadata))
    head, _, tail = field.partition(".")
    if tail:
        del out[head][tail]
    else:
        del out[head]
    return out


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory and a model registry in tmp; returns the copy's directory (metadata as bundled)."""
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ATB_MODELS_DIR", str(tmp_path / "models"))
    target = tmp_path / "models" / "BTCUSDT" / "basic" / VERSION
    shutil.copytree(_bundled_basic(), target)
    return target


def _write(model_dir: Path, metadata: dict[str, Any]) -> None:
    (model_dir / "metadata.json").write_text(json.dumps(metadata))


def test_the_bundled_models_have_complete_metadata() -> None:
    registry = FileModelRegistry(bundled_models_root())
    infos = registry.list()
    assert infos, "no bundled model found"
    for info in infos:
        assert missing_provenance(info) == [], info.ref


def test_the_copy_with_its_metadata_runs_without_the_flag(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ml_basic", "--model-version", VERSION, *RANGE, "--json")
    assert result.code == 0, result.err
    assert not any(n.startswith(UNVERIFIED_PREFIX) for n in result.json()["notes"])


@pytest.mark.parametrize("field", ["<all>", *PROVENANCE])
def test_a_model_without_complete_metadata_is_refused_without_the_flag(
    capsys: pytest.CaptureFixture[str], registry: Path, field: str
) -> None:
    metadata = json.loads((registry / "metadata.json").read_text())
    _write(registry, {} if field == "<all>" else _without(metadata, field))
    line = assert_one_error_line(
        run_main(capsys, "backtest", "--strategy", "ml_basic", "--model-version", VERSION, *RANGE), 1
    )
    assert "--allow-unverified-model" in line and f"BTCUSDT/basic/{VERSION}" in line
    assert (field if field != "<all>" else "train_range") in line


def test_a_wrong_schema_fingerprint_counts_as_missing(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    metadata = json.loads((registry / "metadata.json").read_text())
    _write(registry, {**metadata, "feature_schema_fingerprint": "0" * 16})
    line = assert_one_error_line(
        run_main(capsys, "backtest", "--strategy", "ml_basic", "--model-version", VERSION, *RANGE), 1
    )
    assert "feature_schema_fingerprint" in line


def test_with_the_flag_every_report_says_so(
    capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path
) -> None:
    _write(registry, {})
    args = ("backtest", "--strategy", "ml_basic", "--model-version", VERSION, *RANGE, "--allow-unverified-model")
    html = tmp_path / "r.html"
    text = run_main(capsys, *args, "--report", str(html))
    assert text.code == 0, text.err
    assert f"warning: {UNVERIFIED_PREFIX}" in text.out
    page = html.read_text()
    assert "Read with care" in page and UNVERIFIED_PREFIX in page
    as_json = run_main(capsys, *args, "--json")
    assert as_json.code == 0, as_json.err
    notes = as_json.json()["notes"]
    assert notes[0].startswith(UNVERIFIED_PREFIX) and "train_range" in notes[0]
    compare = run_main(
        capsys, "backtest", "compare", "ml_basic", "ml_basic", "--side-param", "2:entry=0.002",
        "--model-version", VERSION, *RANGE,
        "--allow-unverified-model", "--json",
    )  # fmt: skip
    assert compare.code == 0, compare.err
    for side in compare.json()["sides"]:
        assert side["report"]["notes"][0].startswith(UNVERIFIED_PREFIX)


def test_the_flag_on_a_strategy_without_a_model_is_refused(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ema_trend", "--allow-unverified-model"), 2)
    assert "--allow-unverified-model" in line and "uses no model" in line


def test_compare_refuses_it_without_the_flag(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    _write(registry, {})
    line = assert_one_error_line(
        run_main(capsys, "backtest", "compare", "ml_basic", "ml_basic", "--side-param", "2:entry=0.002",
                 "--model-version", VERSION, *RANGE), 1
    )
    assert "--allow-unverified-model" in line


def test_it_cannot_be_promoted_even_with_force(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    _write(registry, {})
    line = assert_one_error_line(run_main(capsys, "models", "promote", "BTCUSDT", "basic", VERSION, "--force"))
    assert "never promoted" in line and "train_range" in line
