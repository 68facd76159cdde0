"""The file registry keeps every path it builds inside its root (ADR 0015): names are checked by the one rule
before a path is built, and paths are resolved, symlinks included, before any read, write or delete."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.registry import FileModelRegistry
from application.names import InvalidName
from application.ports.models import ModelRef, ModelRefused
from tests.integration.ml.onnx_models import write_model_dir

T0 = 1_795_000_000_000

TRAVERSALS = ["..", "../x", "../../basic/VICTIM", "/abs", "a/b", "%2e%2e", "a\x00b", "a\nb", "x" * 300, ".hidden", ""]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (links not followed): a file's bytes, None for a folder or a link."""
    found: dict[str, bytes | None] = {}
    for current, dirs, files in os.walk(folder):
        for name in dirs:
            found[os.path.relpath(os.path.join(current, name), folder)] = None
        for name in files:
            path = Path(current) / name
            found[os.path.relpath(path, folder)] = None if path.is_symlink() else path.read_bytes()
    return found


@pytest.fixture
def place(tmp_path: Path) -> tuple[FileModelRegistry, Path]:
    """A registry in ``tmp/data/models`` with one promoted and one older version, and a victim folder outside it
    laid out as the registry's own (``tmp/data/basic/VICTIM``: where ``..`` as a symbol leads)."""
    clock = iter(range(T0, T0 + 10**9, 60_000))
    registry = FileModelRegistry(tmp_path / "data" / "models", now_ms=lambda: next(clock))
    for seed in (1, 2):
        registry.register(write_model_dir(tmp_path / f"staging-{seed}", seed=seed), ModelRef("BTCUSDT", "basic", ""))
    victim = tmp_path / "data" / "basic" / "VICTIM"
    write_model_dir(victim, seed=9)
    (tmp_path / "data" / "basic" / "latest").write_text("VICTIM\n")
    return registry, tmp_path / "data"


def _outside(data: Path) -> dict[str, bytes | None]:
    return {k: v for k, v in snapshot(data).items() if not k.startswith("models")}


def _calls(name: str, where: str) -> list[Callable[[FileModelRegistry], object]]:
    sym, typ, ver = ("BTCUSDT", "basic", "VICTIM")
    if where == "symbol":
        sym = name
    elif where == "type":
        typ = name
    else:
        ver = name
    ref = ModelRef(sym, typ, ver)
    return [
        lambda r: r.resolve(sym, typ, ver),
        lambda r: r.resolve(sym, typ),
        lambda r: r.history(sym, typ),
        lambda r: r.promote(ref),
        lambda r: r.rollback(sym, typ),
        lambda r: r.delete(ref),
        lambda r: r.new_version(sym, typ),
        lambda r: r.list(sym if where == "symbol" else None, typ if where == "type" else None),
    ]


@pytest.mark.parametrize("where", ["symbol", "type", "version"])
@pytest.mark.parametrize("name", TRAVERSALS)
def test_every_method_refuses_a_name_that_breaks_the_rule_and_touches_nothing_outside(
    place: tuple[FileModelRegistry, Path], name: str, where: str
) -> None:
    registry, data = place
    before = _outside(data)
    calls = _calls(name, where)
    if where == "version":  # reading a whole pair ignores the version: only the calls that take one
        calls = [calls[0], calls[3], calls[5]]
    for call in calls:
        with pytest.raises(InvalidName):
            call(registry)
    assert _outside(data) == before


def test_dot_dot_as_the_symbol_no_longer_reaches_the_victim(place: tuple[FileModelRegistry, Path]) -> None:
    """The reported case: ``atb models delete .. basic VICTIM`` deleted ``data/basic/VICTIM``."""
    registry, data = place
    before = _outside(data)
    with pytest.raises(InvalidName, match="invalid symbol"):
        registry.delete(ModelRef("..", "basic", "VICTIM"))
    assert _outside(data) == before and (data / "basic" / "VICTIM" / "model.onnx").is_file()
    assert not (data / "basic" / "history.jsonl").exists()


def test_a_version_linked_outside_the_registry_is_refused_for_reading_and_deleting(
    place: tuple[FileModelRegistry, Path],
) -> None:
    registry, data = place
    base = registry.root / "BTCUSDT" / "basic"
    (base / "2026-01-01_00h_v9").symlink_to(data / "basic" / "VICTIM", target_is_directory=True)
    before = _outside(data)
    ref = ModelRef("BTCUSDT", "basic", "2026-01-01_00h_v9")
    calls: list[Callable[[], object]] = [
        lambda: registry.resolve("BTCUSDT", "basic", ref.version),
        lambda: registry.promote(ref),
        lambda: registry.delete(ref),
        registry.list,
    ]
    for call in calls:
        with pytest.raises(ModelRefused, match="leads outside"):
            call()
    assert _outside(data) == before
    assert (base / "2026-01-01_00h_v9").is_symlink()  # left for the user to remove; nothing behind it touched


def test_a_symbol_folder_linked_outside_is_neither_read_nor_written(
    place: tuple[FileModelRegistry, Path], tmp_path: Path
) -> None:
    registry, data = place
    (registry.root / "ETHUSDT").symlink_to(data, target_is_directory=True)  # ETHUSDT/basic -> data/basic
    before = _outside(data)
    with pytest.raises(ModelRefused, match="leads outside"):
        registry.resolve("ETHUSDT", "basic", "VICTIM")
    with pytest.raises(ModelRefused, match="leads outside"):
        registry.promote(ModelRef("ETHUSDT", "basic", "VICTIM"))
    with pytest.raises(ModelRefused, match="leads outside"):
        registry.delete(ModelRef("ETHUSDT", "basic", "VICTIM"))
    with pytest.raises(ModelRefused, match="leads outside"):
        registry.register(write_model_dir(tmp_path / "staging-e", seed=5), ModelRef("ETHUSDT", "basic", ""))
    assert _outside(data) == before


def test_a_log_or_pointer_linked_outside_is_not_followed(place: tuple[FileModelRegistry, Path], tmp_path: Path) -> None:
    registry, _ = place
    base = registry.root / "BTCUSDT" / "basic"
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    (base / "history.jsonl").unlink()
    (base / "history.jsonl").symlink_to(target)
    older = registry.list()[0].ref
    with pytest.raises(ModelRefused, match="leads outside"):
        registry.promote(older)
    assert target.read_text() == "precious\n"


def test_a_model_file_linked_outside_is_refused(place: tuple[FileModelRegistry, Path], tmp_path: Path) -> None:
    registry, _ = place
    info = registry.list()[0]
    secret = tmp_path / "secret.json"
    secret.write_text('{"seed": 1}')
    (info.path / "metadata.json").unlink()
    (info.path / "metadata.json").symlink_to(secret)
    with pytest.raises(ModelRefused, match="leads outside"):
        registry.resolve("BTCUSDT", "basic", info.ref.version)


def test_a_link_to_a_version_inside_the_registry_still_works_and_deleting_it_keeps_the_version(
    place: tuple[FileModelRegistry, Path],
) -> None:
    registry, _ = place
    first, second = registry.list()
    base = registry.root / "BTCUSDT" / "basic"
    (base / "alias").symlink_to(first.path.name, target_is_directory=True)
    assert registry.resolve("BTCUSDT", "basic", "alias").metadata["seed"] == 1
    registry.delete(ModelRef("BTCUSDT", "basic", "alias"))
    assert not os.path.lexists(base / "alias")
    assert (first.path / "model.onnx").is_file()  # the version the link named is still whole
    assert [i.ref.version for i in registry.list()] == [first.ref.version, second.ref.version]


def test_entries_whose_names_break_the_rule_are_not_listed(place: tuple[FileModelRegistry, Path]) -> None:
    registry, _ = place
    registered = {(i.ref.symbol, i.ref.model_type, i.ref.version) for i in registry.list()}
    assert len(registered) == 2
    write_model_dir(registry.root / "lower" / "basic" / "v1")
    write_model_dir(registry.root / "BTCUSDT" / "basic" / "bad name")
    write_model_dir(registry.root / "BTCUSDT" / "basic" / "-v1")
    assert {(i.ref.symbol, i.ref.model_type, i.ref.version) for i in registry.list()} == registered


def test_a_pointer_naming_a_path_is_corrupt(place: tuple[FileModelRegistry, Path]) -> None:
    from application.ports.models import ModelCorrupted

    registry, _ = place
    (registry.root / "BTCUSDT" / "basic" / "latest").write_text("../../../basic/VICTIM\n")
    with pytest.raises(ModelCorrupted, match="does not name a version"):
        registry.resolve("BTCUSDT", "basic")
