"""The container wires the model registry (user root + bundled), the ONNX predictor factory, sentiment and a
lazily built trainer; backtests get all of them."""

from __future__ import annotations

from pathlib import Path

from adapters.registry import FileModelRegistry, bundled_models_root
from application.use_cases.models import DEFAULT_STRESS_WINDOWS, PromoteModel
from application.use_cases.train_model import TrainModel
from entrypoints.container import build_container


def test_the_registry_is_the_models_dir_beside_the_bundled_models(tmp_path: Path) -> None:
    container = build_container({"models_dir": str(tmp_path / "models")})
    registry = container.model_registry()
    assert isinstance(registry, FileModelRegistry)
    assert registry.root == tmp_path / "models" and registry.bundled_root == bundled_models_root()
    assert {(i.ref.symbol, i.ref.model_type) for i in registry.list() if i.is_latest} >= {
        ("BTCUSDT", "basic"), ("BTCUSDT", "sentiment")
    }  # fmt: skip


def test_without_a_models_dir_the_registry_lives_in_the_data_dir(tmp_path: Path) -> None:
    registry = build_container({"data_dir": str(tmp_path)}).model_registry()
    assert registry.root == tmp_path / "models"


def test_training_and_promotion_are_wired_from_the_settings(tmp_path: Path) -> None:
    container = build_container({"models_dir": str(tmp_path), "promotion_margin": 0.1, "stress_windows": ""})
    assert isinstance(container.train_model(), TrainModel)
    promote = container.promote_model()
    assert isinstance(promote, PromoteModel)
    assert promote.windows == DEFAULT_STRESS_WINDOWS and promote.margin == 0.1
    custom = build_container({"stress_windows": "luna=2022-05-01..2022-06-01"}).promote_model()
    assert [w.name for w in custom.windows] == ["luna"] and custom.margin == 0.05
    trainer = build_container({"stress_windows": "luna=2022-05-01..2022-06-01", "promotion_margin": 0.2})
    gate = trainer.train_model().gate  # training judges with the same gate as atb models promote
    assert [w.name for w in gate.windows] == ["luna"] and gate.margin == 0.2
