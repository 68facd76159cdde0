"""The file registry: layout, atomic registration and promotion, rollback, deletion, history and as-of lookups."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.registry import FileModelRegistry, bundled_models_root
from application.ports.models import ModelCorrupted, ModelNotFound, ModelRef, ModelRefused, ModelRegistry
from tests.integration.ml.onnx_models import write_model_dir

T0 = 1_795_000_000_000  # 2026-11-18 ... UTC
HOUR = 3_600_000


class Clock:
    """A test clock: each reading is one minute after the previous one."""

    def __init__(self, start: int = T0) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 60_000
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> FileModelRegistry:
    return FileModelRegistry(tmp_path / "models", now_ms=clock)


def _register(registry: FileModelRegistry, tmp_path: Path, seed: int, promote: bool = True, version: str = "") -> str:
    staging = write_model_dir(tmp_path / f"staging-{seed}-{version}", seed=seed, metadata={"seed": seed})
    return registry.register(staging, ModelRef("BTCUSDT", "basic", version), promote=promote).ref.version


def test_it_implements_the_port(registry: FileModelRegistry) -> None:
    port: ModelRegistry = registry
    assert port.list() == []


def test_register_copies_a_whole_version_and_makes_it_latest(registry: FileModelRegistry, tmp_path: Path) -> None:
    staging = write_model_dir(tmp_path / "staging", metadata={"hyper": {"epochs": 2}})
    info = registry.register(staging, ModelRef("BTCUSDT", "basic", ""))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{2}h_v1", info.ref.version)
    assert info.path == registry.root / "BTCUSDT" / "basic" / info.ref.version
    assert sorted(p.name for p in info.path.iterdir()) == [
        "feature_schema.json", "metadata.json", "model.keras", "model.onnx",
    ]  # fmt: skip
    assert info.is_latest and info.metadata["hyper"] == {"epochs": 2}
    assert info.metadata["version"] == info.ref.version and info.metadata["registered_ms"] == info.registered_ms
    assert (registry.root / "BTCUSDT" / "basic" / "latest").read_text().strip() == info.ref.version
    assert staging.is_dir() and (staging / "model.onnx").is_file()  # the staging directory is left as it was
    assert [e.action for e in registry.history("BTCUSDT", "basic")] == ["register", "promote"]
    assert registry.resolve("BTCUSDT", "basic") == info


def test_version_names_are_unique_within_an_hour_and_never_reused(
    registry: FileModelRegistry, tmp_path: Path, clock: Clock
) -> None:
    clock.now = T0 - T0 % HOUR  # the start of an hour: the next readings stay inside it
    v1, v2, v3 = (_register(registry, tmp_path, seed) for seed in (1, 2, 3))
    assert [v[-3:] for v in (v1, v2, v3)] == ["_v1", "_v2", "_v3"] and len({v1[:-3], v2[:-3], v3[:-3]}) == 1
    registry.promote(ModelRef("BTCUSDT", "basic", v1))
    registry.delete(ModelRef("BTCUSDT", "basic", v3))
    assert _register(registry, tmp_path, 4, promote=False).endswith("_v4")


def test_register_without_promotion_keeps_latest(registry: FileModelRegistry, tmp_path: Path) -> None:
    v1 = _register(registry, tmp_path, 1)
    v2 = _register(registry, tmp_path, 2, promote=False)
    assert registry.resolve("BTCUSDT", "basic").ref.version == v1
    assert registry.resolve("BTCUSDT", "basic", v2).is_latest is False
    assert [i.ref.version for i in registry.list()] == [v1, v2]  # oldest first


def test_an_explicit_version_is_never_overwritten(registry: FileModelRegistry, tmp_path: Path) -> None:
    _register(registry, tmp_path, 1, version="first")
    with pytest.raises(ModelRefused, match="BTCUSDT/basic/first already exists"):
        _register(registry, tmp_path, 2, version="first")


def test_an_incomplete_staging_directory_is_refused(registry: FileModelRegistry, tmp_path: Path) -> None:
    staging = write_model_dir(tmp_path / "staging")
    (staging / "model.onnx").unlink()
    with pytest.raises(ModelRefused, match=r"missing model\.onnx"):
        registry.register(staging, ModelRef("BTCUSDT", "basic", ""))
    assert registry.list() == []


def test_promote_and_rollback_move_latest_and_are_logged(registry: FileModelRegistry, tmp_path: Path) -> None:
    v1, v2, v3 = (_register(registry, tmp_path, seed) for seed in (1, 2, 3))
    assert registry.resolve("BTCUSDT", "basic").ref.version == v3
    assert registry.rollback("BTCUSDT", "basic", reason="worse on 2018").ref.version == v2
    assert registry.rollback("BTCUSDT", "basic").ref.version == v1
    with pytest.raises(ModelRefused, match="nothing to roll back to"):
        registry.rollback("BTCUSDT", "basic")
    promoted = registry.promote(ModelRef("BTCUSDT", "basic", v3), reason="fixed")
    assert promoted.is_latest and [i.ref.version for i in registry.list() if i.is_latest] == [v3]
    events = registry.history("BTCUSDT", "basic")
    assert [(e.action, e.ref.version, e.previous) for e in events[-4:]] == [
        ("promote", v3, v2), ("rollback", v2, v3), ("rollback", v1, v2), ("promote", v3, v1),
    ]  # fmt: skip
    assert events[-3].reason == "worse on 2018"
    assert [e.at_ms for e in events] == sorted(e.at_ms for e in events)


def test_delete_removes_a_version_but_never_the_latest(registry: FileModelRegistry, tmp_path: Path) -> None:
    v1, v2 = (_register(registry, tmp_path, seed) for seed in (1, 2))
    with pytest.raises(ModelRefused, match="is the latest version"):
        registry.delete(ModelRef("BTCUSDT", "basic", v2))
    registry.delete(ModelRef("BTCUSDT", "basic", v1))
    assert [i.ref.version for i in registry.list()] == [v2]
    assert registry.history("BTCUSDT", "basic")[-1].action == "delete"
    with pytest.raises(ModelNotFound, match=f"no model BTCUSDT/basic/{v1}; BTCUSDT/basic has {v2}"):
        registry.resolve("BTCUSDT", "basic", v1)
    with pytest.raises(ModelRefused, match="nothing to roll back to"):  # the deleted version is skipped
        registry.rollback("BTCUSDT", "basic")


def test_resolve_as_of_gives_the_version_that_was_latest_then(
    registry: FileModelRegistry, tmp_path: Path, clock: Clock
) -> None:
    v1 = _register(registry, tmp_path, 1)
    t1 = clock.now
    clock.now += 10 * HOUR
    v2 = _register(registry, tmp_path, 2)
    t2 = clock.now
    clock.now += 10 * HOUR
    registry.rollback("BTCUSDT", "basic")
    t3 = clock.now
    assert registry.resolve("BTCUSDT", "basic", as_of_ms=t1 + HOUR).ref.version == v1
    assert registry.resolve("BTCUSDT", "basic", as_of_ms=t2 + HOUR).ref.version == v2
    assert registry.resolve("BTCUSDT", "basic", as_of_ms=t3 + HOUR).ref.version == v1
    with pytest.raises(ModelNotFound, match=r"no BTCUSDT/basic model was latest at .*first promotion was at"):
        registry.resolve("BTCUSDT", "basic", as_of_ms=T0 - HOUR)
    registry.delete(ModelRef("BTCUSDT", "basic", v2))
    with pytest.raises(ModelNotFound, match=f"{v2} was latest at .* has since been deleted"):
        registry.resolve("BTCUSDT", "basic", as_of_ms=t2 + HOUR)


def test_not_found_lists_what_exists(registry: FileModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="the registry is empty"):
        registry.resolve("BTCUSDT", "basic")
    v1 = _register(registry, tmp_path, 1)
    with pytest.raises(ModelNotFound, match="the registry has BTCUSDT/basic"):
        registry.resolve("ETHUSDT", "basic")
    with pytest.raises(ModelNotFound, match=f"BTCUSDT/basic has {v1}"):
        registry.resolve("BTCUSDT", "basic", "nope")


def test_a_broken_metadata_file_is_model_corrupted_naming_it(registry: FileModelRegistry, tmp_path: Path) -> None:
    v1 = _register(registry, tmp_path, 1)
    broken = registry.root / "BTCUSDT" / "basic" / v1 / "metadata.json"
    broken.write_text("{truncated")
    with pytest.raises(ModelCorrupted, match=re.escape(str(broken)) + ": not valid JSON"):
        registry.resolve("BTCUSDT", "basic")
    with pytest.raises(ModelCorrupted, match=r"metadata\.json"):
        registry.list()


def test_an_interrupted_copy_leaves_nothing_listed(
    registry: FileModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = _register(registry, tmp_path, 1)
    real_copy = shutil.copyfile
    calls: list[str] = []

    def failing_copy(src: str | Path, dst: str | Path) -> object:
        calls.append(str(src))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst)

    monkeypatch.setattr(shutil, "copyfile", failing_copy)
    with pytest.raises(ModelRefused, match="No space left on device"):
        _register(registry, tmp_path, 2)
    monkeypatch.undo()
    assert [i.ref.version for i in registry.list()] == [v1]
    assert registry.resolve("BTCUSDT", "basic").ref.version == v1
    assert sorted(os.listdir(registry.root / "BTCUSDT" / "basic")) == [v1, "history.jsonl", "latest"]


def test_a_crash_mid_copy_leaves_a_hidden_directory_that_is_never_listed_and_later_swept(
    registry: FileModelRegistry, tmp_path: Path
) -> None:
    v1 = _register(registry, tmp_path, 1)
    base = registry.root / "BTCUSDT" / "basic"
    half = base / ".tmp-crashed"
    half.mkdir()
    (half / "model.onnx").write_bytes(b"half a model")
    assert [i.ref.version for i in registry.list()] == [v1]
    _register(registry, tmp_path, 2)
    assert not half.exists()


def test_a_failed_pointer_swap_keeps_the_old_latest(
    registry: FileModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = _register(registry, tmp_path, 1)
    v2 = _register(registry, tmp_path, 2, promote=False)

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ModelRefused, match="I/O error"):
        registry.promote(ModelRef("BTCUSDT", "basic", v2))
    monkeypatch.undo()
    assert registry.resolve("BTCUSDT", "basic").ref.version == v1
    assert not [n for n in os.listdir(registry.root / "BTCUSDT" / "basic") if n.startswith(".")]


@pytest.fixture
def bundled(tmp_path: Path) -> Iterator[Path]:
    """A bundled tree with one promoted version, made read-only like an installed package."""
    root = tmp_path / "bundled"
    shipping = FileModelRegistry(root, now_ms=Clock(T0 - 100 * HOUR))
    shipping.register(write_model_dir(tmp_path / "ship", seed=9), ModelRef("BTCUSDT", "basic", "2026-01-01_00h_v1"))
    (root / "README.md").write_text("bundled models")
    paths = [p for p in root.rglob("*")]
    for p in paths:
        p.chmod(0o555 if p.is_dir() else 0o444)
    root.chmod(0o555)
    yield root
    for p in [root, *paths]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_bundled_versions_are_listed_and_latest_until_the_user_promotes(
    tmp_path: Path, bundled: Path, clock: Clock
) -> None:
    registry = FileModelRegistry(tmp_path / "user", bundled_root=bundled, now_ms=clock)
    shipped = registry.resolve("BTCUSDT", "basic")
    assert shipped.ref.version == "2026-01-01_00h_v1" and shipped.path.is_relative_to(bundled)
    assert registry.resolve("BTCUSDT", "basic", as_of_ms=T0).ref.version == "2026-01-01_00h_v1"
    mine = _register(registry, tmp_path, 1)
    assert [i.ref.version for i in registry.list()] == ["2026-01-01_00h_v1", mine]
    assert registry.resolve("BTCUSDT", "basic").ref.version == mine
    assert registry.rollback("BTCUSDT", "basic").ref.version == "2026-01-01_00h_v1"
    assert (tmp_path / "user" / "BTCUSDT" / "basic" / "latest").read_text().strip() == "2026-01-01_00h_v1"
    assert registry.promote(ModelRef("BTCUSDT", "basic", mine)).is_latest


def test_nothing_is_ever_written_to_the_bundled_tree(tmp_path: Path, bundled: Path, clock: Clock) -> None:
    before = {p: p.stat().st_mtime_ns for p in bundled.rglob("*")}
    registry = FileModelRegistry(tmp_path / "user", bundled_root=bundled, now_ms=clock)
    mine = _register(registry, tmp_path, 1)
    with pytest.raises(ModelRefused, match=r"bundled with atb .*read-only.* cannot be deleted"):
        registry.delete(ModelRef("BTCUSDT", "basic", "2026-01-01_00h_v1"))
    registry.promote(ModelRef("BTCUSDT", "basic", "2026-01-01_00h_v1"))
    registry.delete(ModelRef("BTCUSDT", "basic", mine))
    assert {p: p.stat().st_mtime_ns for p in bundled.rglob("*")} == before


def test_a_user_version_wins_over_a_bundled_one_of_the_same_name(tmp_path: Path, bundled: Path) -> None:
    staging = write_model_dir(tmp_path / "same", seed=5, metadata={"mine": True})
    FileModelRegistry(tmp_path / "user").register(staging, ModelRef("BTCUSDT", "basic", "2026-01-01_00h_v1"))
    registry = FileModelRegistry(tmp_path / "user", bundled_root=bundled, now_ms=Clock())
    with pytest.raises(ModelRefused, match="already exists"):  # a new registration may not shadow a bundled one
        registry.register(staging, ModelRef("BTCUSDT", "basic", "2026-01-01_00h_v1"))
    infos = registry.list()
    assert len(infos) == 1 and infos[0].metadata["mine"] is True
    assert infos[0].path.is_relative_to(tmp_path / "user")


def test_the_packaged_bundled_tree_reads_cleanly(tmp_path: Path) -> None:
    root = bundled_models_root()
    assert (root / "README.md").is_file()
    registry = FileModelRegistry(tmp_path / "user", bundled_root=root)
    for info in registry.list():
        assert (info.path / "model.onnx").is_file()
        json.loads((info.path / "feature_schema.json").read_text())


def test_a_history_line_cut_short_by_a_crash_is_ignored_but_a_broken_one_is_corrupt(
    registry: FileModelRegistry, tmp_path: Path
) -> None:
    _register(registry, tmp_path, 1)
    log = registry.root / "BTCUSDT" / "basic" / "history.jsonl"
    with log.open("a") as handle:
        handle.write('{"action": "prom')
    assert [e.action for e in registry.history("BTCUSDT", "basic")] == ["register", "promote"]
    log.write_text('{"action": "launch", "at_ms": 1, "version": "x"}\n' + log.read_text())
    with pytest.raises(ModelCorrupted, match=r"history\.jsonl, line 1: not a registry event"):
        registry.history("BTCUSDT", "basic")
