"""The ``ModelRegistry`` port on a directory tree.

Layout under ``root``::

    {SYMBOL}/{TYPE}/{VERSION}/model.keras, model.onnx, metadata.json, feature_schema.json
    {SYMBOL}/{TYPE}/latest          one line: the version ``latest`` points at
    {SYMBOL}/{TYPE}/history.jsonl   append-only log: register, promote, rollback, delete

Atomicity: a version is copied into a hidden temporary directory beside its final place (``.tmp-*``), then
renamed into place in one ``os.rename``; hidden entries are never listed, so a reader sees a whole version
or none (an interrupted copy leaves only a hidden directory, swept on the next registration). ``latest`` is
written to a temporary file and swapped in with ``os.replace``. Deletion renames the version to a hidden
name before removing it.

Names (ADR 0015): a symbol, type or version follows the one naming rule of :mod:`application.names` (symbols:
upper-case letters and digits) in every method, before any path is built; a path is then resolved (symlinks
included) and refused unless it stays inside its root, before any read, write or delete. Entries whose names break
the rule are not registry entries (like hidden ones, they are never listed).

Versions are named ``YYYY-MM-DD_HHh_vN`` from the UTC registration time and a counter that never reuses a
name seen in the tree or its history.

``bundled_root``: a read-only tree shipped with atb (same layout). Its versions are listed and resolved
too (a version of the same name in ``root`` wins); its ``latest`` and history apply until ``root`` has its
own for that symbol and type. Nothing is ever written there: promoting a bundled version writes the pointer
into ``root``; deleting a bundled version is refused.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from application.names import check_name, check_symbol, is_name, is_symbol
from application.ports.models import ModelCorrupted, ModelInfo, ModelNotFound, ModelRef, ModelRefused, RegistryEvent
from domain.features import FeatureSchema, FeatureSchemaError

MODEL_FILES = ("model.keras", "model.onnx", "metadata.json", "feature_schema.json")
REQUIRED_FILES = ("model.onnx", "metadata.json", "feature_schema.json")
LATEST = "latest"
HISTORY = "history.jsonl"
_TMP = ".tmp-"
_TRASH = ".trash-"
_ACTIONS = ("register", "promote", "rollback", "delete")
_SETS_LATEST = ("promote", "rollback")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _check_part(kind: str, value: str) -> str:
    """``value`` if it follows the naming rule (application.names; it keeps ``latest`` and ``history.jsonl``)."""
    return check_name(kind, value)


def _check(symbol: str, model_type: str, version: str | None = None) -> None:
    """Every name a registry method is given, checked before any path is built from it."""
    check_symbol(symbol)
    _check_part("model type", model_type)
    if version is not None:
        _check_part("version", version)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# The JSON type of every metadata field atb reads (dotted: a field inside an object). A field may be absent
# (what must be there is the provenance check's business); one that is there with another type is refused when
# the version is read, in one line naming the file and the field, instead of failing later wherever it is used.
_OBJECT, _LIST, _TEXT, _INT, _NUMBER, _RANGE = "an object", "a list", "a string", "an integer", "a number", "a range"
METADATA_TYPES: dict[str, str] = {
    "timeframe": _TEXT, "symbol": _TEXT, "model_type": _TEXT, "version": _TEXT, "target": _TEXT,
    "feature_schema_fingerprint": _TEXT, "trained_at_ms": _INT, "format": _INT,
    "train_range": _RANGE, "val_range": _RANGE, "test_range": _RANGE,
    "data": _OBJECT, "data.start_ms": _INT, "data.end_ms": _INT, "data.bars": _INT, "data.sha256": _TEXT,
    "data.sentiment_sha256": _TEXT, "data.source": _TEXT,
    "hyperparameters": _OBJECT, "package_versions": _OBJECT, "windows": _OBJECT,
    "windows.train": _INT, "windows.val": _INT, "windows.test": _INT,
    "metrics": _OBJECT, "metrics.test": _OBJECT, "metrics.val": _OBJECT,
    "metrics.test.model": _OBJECT, "metrics.test.zero": _OBJECT, "metrics.val.model": _OBJECT,
    "metrics.val.zero": _OBJECT,
    "backtest": _OBJECT, "backtest.metrics": _OBJECT, "backtest.range": _RANGE, "backtest.strategy": _TEXT,
    "backtest.initial_cash": _NUMBER,
    "training": _OBJECT, "training.epochs_run": _INT, "training.seconds": _NUMBER,
    "training.wall_seconds": _NUMBER, "training.onnx_max_abs_diff": _NUMBER, "training.device": _TEXT,
    "training.phases": _OBJECT, "training.notes": _LIST, "training.history": _OBJECT,
    "gate": _OBJECT, "gate.checks": _LIST,
}  # fmt: skip


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: _OBJECT, list: _LIST, str: _TEXT, int: _INT, float: _NUMBER}.get(type(value), type(value).__name__)


def _has_type(value: Any, expected: str) -> bool:
    if expected == _RANGE:
        return isinstance(value, list) and len(value) == 2 and all(_has_type(v, _INT) for v in value)
    if expected == _NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return _json_type(value) == expected


def _check_metadata(path: Path, metadata: dict[str, Any]) -> None:
    """Refuse (``ModelCorrupted``, one line) metadata whose fields have other types than ``METADATA_TYPES``."""
    for key, expected in METADATA_TYPES.items():
        value: Any = metadata
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        if not _has_type(value, expected):
            what = "[start_ms, end_ms] (two integers)" if expected == _RANGE else expected
            raise ModelCorrupted(f"{path}: {key} should be {what}, not {_json_type(value)}")


@dataclass(frozen=True, slots=True)
class _Version:
    ref: ModelRef
    path: Path
    bundled: bool


class FileModelRegistry:
    """Model versions under ``root`` (created on first write), plus the read-only ``bundled_root``.

    ``now_ms``: the clock for registration times and log entries (UTC ms; the system clock by default).
    """

    def __init__(self, root: Path, bundled_root: Path | None = None, now_ms: Callable[[], int] | None = None) -> None:
        self._root = Path(root)
        bundled = Path(bundled_root) if bundled_root is not None else None
        if bundled is not None and bundled.resolve() == self._root.resolve():
            bundled = None  # writing the bundled tree itself (building the shipped models)
        self._bundled = bundled
        self._now = now_ms or _now_ms

    @property
    def root(self) -> Path:
        return self._root

    @property
    def bundled_root(self) -> Path | None:
        return self._bundled

    # ---------------------------------------------------------------- confinement

    @staticmethod
    def _within(path: Path, root: Path) -> Path:
        """``path`` if it resolves (symlinks included) inside ``root``; else ModelRefused, before any use."""
        resolved = path.resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise ModelRefused(f"{path} leads outside {root} (to {resolved}); refusing to use it")
        return path

    def _base(self, root: Path, symbol: str, model_type: str) -> Path:
        """``root/SYMBOL/TYPE``, confined to ``root``."""
        return self._within(root / symbol / model_type, root)

    # ---------------------------------------------------------------- reading

    def _roots(self) -> list[tuple[Path, bool]]:
        roots = [(self._root, False)]
        if self._bundled is not None:
            roots.append((self._bundled, True))
        return roots

    @staticmethod
    def _subdirs(path: Path) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(path) if e.is_dir() and is_name(e.name))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as e:  # a directory atb may not read (permissions): one line naming it
            raise ModelCorrupted(f"{path}: cannot read the model directory ({e.strerror or e})") from None

    def _pairs(self, symbol: str | None, model_type: str | None) -> list[tuple[str, str]]:
        pairs: set[tuple[str, str]] = set()
        for root, _ in self._roots():
            for sym in self._subdirs(root):
                if (symbol is not None and sym != symbol) or not is_symbol(sym):
                    continue
                for typ in self._subdirs(root / sym):
                    if model_type is None or typ == model_type:
                        pairs.add((sym, typ))
        return sorted(pairs)

    def _versions(self, symbol: str, model_type: str) -> dict[str, _Version]:
        found: dict[str, _Version] = {}
        for root, bundled in reversed(self._roots()):  # the user's root last, so it wins on a clash
            base = self._base(root, symbol, model_type)
            for name in self._subdirs(base):
                found[name] = _Version(ModelRef(symbol, model_type, name), base / name, bundled)
        return found

    def _read_latest(self, base: Path) -> str | None:
        path = self._within(base / LATEST, base)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise ModelCorrupted(f"{path}: unreadable ({e})") from e
        if not is_name(text):
            raise ModelCorrupted(f"{path}: does not name a version ({text!r})")
        return text

    def _latest(self, symbol: str, model_type: str) -> str | None:
        for root, _ in self._roots():
            name = self._read_latest(self._base(root, symbol, model_type))
            if name is not None:
                return name
        return None

    def _info(self, version: _Version, latest: str | None) -> ModelInfo:
        root = self._bundled if version.bundled and self._bundled is not None else self._root
        self._within(version.path, root)
        for name in MODEL_FILES:  # what the version's readers open (the predictor too) stays in the registry
            if os.path.lexists(version.path / name):
                self._within(version.path / name, root)
        meta_path = version.path / "metadata.json"
        schema_path = version.path / "feature_schema.json"
        metadata = self._read_json(meta_path)
        if not isinstance(metadata, dict):
            raise ModelCorrupted(f"{meta_path}: not a JSON object")
        _check_metadata(meta_path, metadata)
        try:
            schema = FeatureSchema.from_dict(self._read_json(schema_path))
        except FeatureSchemaError as e:
            raise ModelCorrupted(f"{schema_path}: {e}") from e
        registered = metadata.get("registered_ms")
        if isinstance(registered, bool) or not isinstance(registered, int):
            registered = int(meta_path.stat().st_mtime * 1000)
        return ModelInfo(
            ref=version.ref,
            path=version.path,
            metadata=metadata,
            schema=schema,
            registered_ms=registered,
            is_latest=version.ref.version == latest,
        )

    @staticmethod
    def _read_json(path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelCorrupted(f"{path}: missing") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ModelCorrupted(f"{path}: unreadable ({e})") from e
        except json.JSONDecodeError as e:
            raise ModelCorrupted(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from e

    def _describe(self, symbol: str, model_type: str) -> str:
        versions = sorted(self._versions(symbol, model_type))
        if versions:
            return f"{symbol}/{model_type} has {', '.join(versions)}"
        pairs = self._pairs(None, None)
        if pairs:
            return "the registry has " + ", ".join(f"{s}/{t}" for s, t in pairs)
        return "the registry is empty"

    def resolve(
        self, symbol: str, model_type: str, version: str | None = None, as_of_ms: int | None = None
    ) -> ModelInfo:
        _check(symbol, model_type, version)
        versions = self._versions(symbol, model_type)
        latest = self._latest(symbol, model_type)
        if version is None and as_of_ms is not None:
            version = self._latest_at(symbol, model_type, as_of_ms)
            if version not in versions:
                raise ModelNotFound(
                    f"{symbol}/{model_type}/{version} was latest at {_iso(as_of_ms)} but has since been deleted; "
                    + self._describe(symbol, model_type)
                )
        elif version is None:
            if latest is None:
                raise ModelNotFound(f"no latest {symbol}/{model_type} model; " + self._describe(symbol, model_type))
            version = latest
        found = versions.get(version)
        if found is None:
            raise ModelNotFound(f"no model {symbol}/{model_type}/{version}; " + self._describe(symbol, model_type))
        return self._info(found, latest)

    def _latest_at(self, symbol: str, model_type: str, as_of_ms: int) -> str:
        current: str | None = None
        first: int | None = None
        for event in self.history(symbol, model_type):
            if event.action in _SETS_LATEST:
                first = event.at_ms if first is None else first
                if event.at_ms <= as_of_ms:
                    current = event.ref.version
        if current is None:
            when = f"; the first promotion was at {_iso(first)}" if first is not None else "; none was ever promoted"
            raise ModelNotFound(f"no {symbol}/{model_type} model was latest at {_iso(as_of_ms)}{when}")
        return current

    # ---------------------------------------------------------------- history

    def _read_history(self, base: Path) -> list[RegistryEvent]:
        path = self._within(base / HISTORY, base)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as e:
            raise ModelCorrupted(f"{path}: unreadable ({e})") from e
        events: list[RegistryEvent] = []
        symbol, model_type = base.parent.name, base.name
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                action = str(raw["action"])
                if action not in _ACTIONS:
                    raise ValueError(f"unknown action {action!r}")
                events.append(
                    RegistryEvent(
                        at_ms=int(raw["at_ms"]),
                        action=action,
                        ref=ModelRef(symbol, model_type, str(raw["version"])),
                        previous=None if raw.get("previous") is None else str(raw["previous"]),
                        reason=str(raw.get("reason", "")),
                    )
                )
            except (ValueError, KeyError, TypeError) as e:
                if number == len(lines) and not text.endswith("\n"):
                    continue  # a last line cut short by a crash: the write never completed
                raise ModelCorrupted(f"{path}, line {number}: not a registry event ({e})") from e
        return events

    def history(self, symbol: str, model_type: str) -> list[RegistryEvent]:
        """Both roots' logs merged in time order (the bundled tree's first on equal times)."""
        _check(symbol, model_type)
        events: list[RegistryEvent] = []
        for root, bundled in reversed(self._roots()):
            base = self._base(root, symbol, model_type)
            logged = self._read_history(base)
            if bundled and not logged:
                logged = self._synthetic_history(symbol, model_type, base)
            events.extend(logged)
        events.sort(key=lambda e: e.at_ms)  # stable: equal times keep the bundled-first order
        return events

    def _synthetic_history(self, symbol: str, model_type: str, base: Path) -> list[RegistryEvent]:
        """A bundled tree shipped without its log: its latest counts as promoted when it was registered."""
        name = self._read_latest(base)
        if name is None or not (base / name).is_dir():
            return []
        info = self._info(_Version(ModelRef(symbol, model_type, name), base / name, True), name)
        return [RegistryEvent(info.registered_ms, "promote", info.ref, None, "bundled with atb")]

    def _log(self, event: RegistryEvent) -> None:
        _check(event.ref.symbol, event.ref.model_type, event.ref.version)
        base = self._base(self._root, event.ref.symbol, event.ref.model_type)
        base.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {
                "at_ms": event.at_ms,
                "at": _iso(event.at_ms),
                "action": event.action,
                "version": event.ref.version,
                "previous": event.previous,
                "reason": event.reason,
            },
            sort_keys=True,
        )
        # One write of one line in append mode: entries never interleave or rewrite each other.
        fd = os.open(self._within(base / HISTORY, base), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---------------------------------------------------------------- writing

    def _writable(self, ref: ModelRef, verb: str) -> None:
        version = self._versions(ref.symbol, ref.model_type).get(ref.version)
        if version is not None and version.bundled:
            raise ModelRefused(f"{ref} is bundled with atb (read-only, in {self._bundled}); it cannot be {verb}")

    def new_version(self, symbol: str, model_type: str, at_ms: int | None = None) -> str:
        """A fresh version name ``YYYY-MM-DD_HHh_vN`` (UTC), never used before for this symbol and type."""
        _check(symbol, model_type)
        at = self._now() if at_ms is None else at_ms
        prefix = datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d_%Hh_v")
        used = set(self._versions(symbol, model_type)) | {e.ref.version for e in self.history(symbol, model_type)}
        counters = [int(n[len(prefix) :]) for n in used if n.startswith(prefix) and n[len(prefix) :].isdigit()]
        return f"{prefix}{max(counters, default=0) + 1}"

    @staticmethod
    def _subdirs_all(path: Path) -> list[str]:
        try:
            return [e.name for e in os.scandir(path) if e.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _sweep(self, base: Path) -> None:
        """Remove leftovers of interrupted registrations and deletions (hidden, never listed)."""
        for name in self._subdirs_all(base):
            if name.startswith((_TMP, _TRASH)):
                shutil.rmtree(base / name, ignore_errors=True)

    def register(self, staging_dir: Path, ref: ModelRef, promote: bool = True) -> ModelInfo:
        """Copy a complete version from ``staging_dir`` into place atomically (``ref.version`` empty: a fresh
        name from :meth:`new_version`), log it, and promote it unless ``promote`` is False.

        ``staging_dir`` must hold ``model.onnx``, ``metadata.json`` and ``feature_schema.json`` (and
        ``model.keras``; every other top-level file is copied too). ``metadata.json`` gains ``symbol``, ``model_type``,
        ``version`` and ``registered_ms``. The staging directory is left as it was.
        """
        staging = Path(staging_dir)
        _check(ref.symbol, ref.model_type, ref.version or None)
        symbol, model_type = ref.symbol, ref.model_type
        missing = [name for name in REQUIRED_FILES if not (staging / name).is_file()]
        if missing:
            raise ModelRefused(f"{staging} is not a complete model: missing {', '.join(missing)}")
        metadata = self._read_json(staging / "metadata.json")
        if not isinstance(metadata, dict):
            raise ModelCorrupted(f"{staging / 'metadata.json'}: not a JSON object")
        try:
            FeatureSchema.from_dict(self._read_json(staging / "feature_schema.json"))
        except FeatureSchemaError as e:
            raise ModelCorrupted(f"{staging / 'feature_schema.json'}: {e}") from e
        base = self._base(self._root, symbol, model_type)
        base.mkdir(parents=True, exist_ok=True)
        self._sweep(base)
        explicit = bool(ref.version)
        if explicit:
            _check_part("version", ref.version)
            if ref.version in self._versions(symbol, model_type):
                raise ModelRefused(f"{ref} already exists; versions are never overwritten")
        at = self._now()
        tmp = base / f"{_TMP}{uuid.uuid4().hex}"
        try:
            tmp.mkdir()
            for name in sorted(os.listdir(staging)):
                source = staging / name
                if name != "metadata.json" and not name.startswith(".") and source.is_file():
                    shutil.copyfile(source, tmp / name)
            for _attempt in range(100):
                version = ref.version if explicit else self.new_version(symbol, model_type, at)
                final = ModelRef(symbol, model_type, version)
                stamped = dict(metadata, symbol=symbol, model_type=model_type, version=version, registered_ms=at)
                (tmp / "metadata.json").write_text(json.dumps(stamped, indent=2, sort_keys=True) + "\n", "utf-8")
                for name in os.listdir(tmp):
                    with open(tmp / name, "rb") as handle:
                        os.fsync(handle.fileno())
                _fsync_dir(tmp)
                try:
                    self._place(tmp, base / version)
                    break
                except FileExistsError:
                    if explicit:
                        raise ModelRefused(f"{final} already exists; versions are never overwritten") from None
            else:
                raise ModelRefused(f"could not find a free version name for {symbol}/{model_type}")
        except OSError as e:
            raise ModelRefused(f"could not register {ref.symbol}/{ref.model_type}: {e}") from e
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _fsync_dir(base)
        previous = self._latest(symbol, model_type)
        self._log(RegistryEvent(at, "register", final, previous))
        if promote:
            return self.promote(final, reason="registered")
        return self.resolve(symbol, model_type, version)

    @staticmethod
    def _place(tmp: Path, final: Path) -> None:
        """Rename ``tmp`` to ``final`` unless ``final`` exists (os.rename would replace an empty directory)."""
        if os.path.lexists(final):
            raise FileExistsError(final)
        try:
            os.rename(tmp, final)
        except OSError as e:
            if os.path.lexists(final):
                raise FileExistsError(final) from e
            raise

    def _write_latest(self, symbol: str, model_type: str, version: str) -> None:
        _check(symbol, model_type, version)
        base = self._base(self._root, symbol, model_type)
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".{LATEST}.{uuid.uuid4().hex}"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(version + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, base / LATEST)
        except OSError as e:
            raise ModelRefused(f"could not move {symbol}/{model_type} latest to {version}: {e}") from e
        finally:
            if tmp.exists():
                tmp.unlink()
        _fsync_dir(base)

    def promote(self, ref: ModelRef, reason: str = "") -> ModelInfo:
        """Point ``latest`` (in ``root``, also for a bundled version) at ``ref`` and log it."""
        _check(ref.symbol, ref.model_type, ref.version)
        info = self.resolve(ref.symbol, ref.model_type, ref.version)  # raises ModelNotFound / ModelCorrupted
        previous = self._latest(ref.symbol, ref.model_type)
        self._write_latest(ref.symbol, ref.model_type, ref.version)
        self._log(RegistryEvent(self._now(), "promote", info.ref, previous, reason))
        return self.resolve(ref.symbol, ref.model_type, ref.version)

    def _promotion_stack(self, symbol: str, model_type: str) -> list[str]:
        """The versions ``latest`` went through, oldest first, with rolled-back and deleted ones removed."""
        stack: list[str] = []
        for event in self.history(symbol, model_type):
            v = event.ref.version
            if event.action == "promote":
                if not stack or stack[-1] != v:
                    stack.append(v)
            elif event.action == "rollback":
                while stack and stack[-1] != v:
                    stack.pop()
                if not stack:
                    stack.append(v)
            elif event.action == "delete":
                stack = [s for s in stack if s != v]
        return stack

    def rollback(self, symbol: str, model_type: str, reason: str = "") -> ModelInfo:
        """Point ``latest`` back at the version it named before the last promotion still in force (rolling
        back twice goes back two promotions), and log it."""
        _check(symbol, model_type)
        current = self._latest(symbol, model_type)
        if current is None:
            raise ModelNotFound(
                f"no latest {symbol}/{model_type} model to roll back; " + self._describe(symbol, model_type)
            )
        stack = self._promotion_stack(symbol, model_type)
        while stack and stack[-1] != current:
            stack.pop()
        existing = self._versions(symbol, model_type)
        candidates = [v for v in stack[:-1] if v in existing]
        if not candidates:
            raise ModelRefused(f"{symbol}/{model_type}: nothing to roll back to before {current}")
        target = candidates[-1]
        self._write_latest(symbol, model_type, target)
        self._log(RegistryEvent(self._now(), "rollback", ModelRef(symbol, model_type, target), current, reason))
        return self.resolve(symbol, model_type, target)

    def delete(self, ref: ModelRef) -> None:
        """Remove a version ``latest`` does not point at; refused for the latest and for bundled versions."""
        _check(ref.symbol, ref.model_type, ref.version)
        versions = self._versions(ref.symbol, ref.model_type)
        if ref.version not in versions:
            raise ModelNotFound(f"no model {ref}; " + self._describe(ref.symbol, ref.model_type))
        self._writable(ref, "deleted")
        latest = self._latest(ref.symbol, ref.model_type)
        if latest == ref.version:
            raise ModelRefused(f"{ref} is the latest version: promote or roll back to another one before deleting it")
        base = self._base(self._root, ref.symbol, ref.model_type)
        trash = base / f"{_TRASH}{uuid.uuid4().hex}"
        try:
            os.rename(self._within(base / ref.version, self._root), trash)
        except OSError as e:
            raise ModelRefused(f"could not delete {ref}: {e}") from e
        _fsync_dir(base)
        self._log(RegistryEvent(self._now(), "delete", ref, latest))
        if trash.is_symlink():  # a link (inside the registry) to a version: the link goes, not what it names
            trash.unlink()
        else:
            shutil.rmtree(trash, ignore_errors=True)

    def list(self, symbol: str | None = None, model_type: str | None = None) -> builtins.list[ModelInfo]:
        """Registered versions (both roots), oldest first, optionally filtered."""
        if symbol is not None:
            check_symbol(symbol)
        if model_type is not None:
            _check_part("model type", model_type)
        infos: builtins.list[ModelInfo] = []
        for sym, typ in self._pairs(symbol, model_type):
            latest = self._latest(sym, typ)
            infos.extend(self._info(v, latest) for v in self._versions(sym, typ).values())
        infos.sort(key=lambda i: (i.ref.symbol, i.ref.model_type, i.registered_ms, i.ref.version))
        return infos
