"""Small helpers every ``atb`` command shares: dates in, dates out, ``name=value`` lists, consoles."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

    from entrypoints.settings import Settings


class CliError(Exception):
    """A user error the CLI found itself (a path it cannot write, flags that cannot work together):
    one line, exit 1."""


class Finite(click.ParamType[float]):
    """A finite number inside ``[low, high]`` (``low_open``/``high_open``: that end excluded); ``integer``: a
    whole number. NaN, infinities and numbers too large for a float (``1e400``) are refused with one line naming
    the option, before any work: every numeric option of ``atb`` uses this type (docs/adr/0016-numbers.md)."""

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
        integer: bool = False,
    ) -> None:
        self.low, self.high, self.low_open, self.high_open, self.integer = low, high, low_open, high_open, integer
        self.name = "integer" if integer else "number"

    def describe(self) -> str:
        """The range in words, for errors and help: ``in [0, 1000]``, ``positive and at most 125``, ``>= 1``."""
        def num(x: float) -> str:
            return f"{x:g}"

        if self.low == 0 and self.low_open and self.high is not None:
            return f"positive and {'below' if self.high_open else 'at most'} {num(self.high)}"
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{num(self.low)}, {num(self.high)}"
                    f"{')' if self.high_open else ']'}")  # fmt: skip
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {num(self.high)}"
        return "finite"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "INTEGER" if self.integer else "NUMBER"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float | int:
        kind = "whole number" if self.integer else "number"
        if isinstance(value, bool):
            self.fail(f"{value!r} is not a {kind}", param, ctx)
        number: float | int
        try:
            text = value if isinstance(value, int | float) else str(value).strip()
            if self.integer and isinstance(text, str) and text.lstrip("+-").isdigit():
                number = int(text)  # exact, however long (no float rounding of large whole numbers)
            else:
                number = float(text)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{value!r} is not a {kind}", param, ctx)
        if isinstance(number, int):
            number_ok = self._inside(number)
            if not number_ok:
                self.fail(f"{value} is out of range: must be {self.describe()}", param, ctx)
            return number
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite {kind} (must be {self.describe()})", param, ctx)
        if self.integer and not number.is_integer():
            self.fail(f"{value!r} is not a whole number", param, ctx)
        if not self._inside(number):
            self.fail(f"{value} is out of range: must be {self.describe()}", param, ctx)
        return int(number) if self.integer else number

    def _inside(self, number: float | int) -> bool:
        too_low = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        too_high = self.high is not None and (number >= self.high if self.high_open else number > self.high)
        return not (too_low or too_high)


def _identity(path: Path) -> tuple[int, int] | None:
    """The file a path names, through any symlink: (device, inode); None when there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


_WALK_LIMIT = 100_000  # files looked at in a protected folder before giving up on finding a hard link there


def _linked_file(directory: Path, identity: tuple[int, int]) -> Path | None:
    """A file under ``directory`` that is the same file as ``identity`` (a hard link), if any."""
    seen = 0
    for folder, _dirs, files in os.walk(directory):
        for name in files:
            candidate = Path(folder) / name
            if _identity(candidate) == identity:
                return candidate
            seen += 1
            if seen >= _WALK_LIMIT:
                return None
    return None


def check_output_path(
    path: Path,
    flag: str,
    protected: dict[str, Path | None] | None = None,
    protected_dirs: dict[str, Path | None] | None = None,
) -> None:
    """Refuse, before any work, an output file that cannot be written: a missing or unwritable directory,
    a directory, an unwritable file, or a file the run reads or keeps (``protected``: what -> path), or a path
    inside a folder atb reads from (``protected_dirs``: the model registry, the bundled data).

    "The same file" is decided by path (resolved, symlinks included) and by ``os.stat`` device and inode, so a
    symlink or a hard link to an input is refused too (ADR 0015)."""
    target = path.expanduser()
    resolved = target.resolve()
    identity = _identity(target)
    for what, given in (protected or {}).items():
        if given is None:
            continue
        other = given.expanduser()
        if resolved == other.resolve() or (identity is not None and identity == _identity(other)):
            raise CliError(f"{flag} {path}: that is the {what}; writing the report would overwrite it")
    for what, directory in (protected_dirs or {}).items():
        if directory is None:
            continue
        folder = directory.expanduser().resolve()
        if resolved.is_relative_to(folder):
            raise CliError(f"{flag} {path}: that is inside the {what} ({folder}); write the report elsewhere")
        linked = _linked_file(folder, identity) if identity is not None else None
        if linked is not None:
            raise CliError(f"{flag} {path}: that is {linked} of the {what} (a hard link); writing would overwrite it")
    if target.is_dir():
        raise CliError(f"{flag} {path}: is a directory; name a file")
    parent = resolved.parent
    if not parent.exists():
        raise CliError(f"{flag} {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise CliError(f"{flag} {path}: {parent} is not a directory")
    if target.exists() and not os.access(target, os.W_OK):
        raise CliError(f"{flag} {path}: file is not writable")
    # A report is written beside its target, then renamed onto it (a device or a pipe is written in place).
    in_place = target.exists() and not target.is_file()
    if not in_place and not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"{flag} {path}: directory {parent} is not writable")


def parse_date(value: str | None, what: str) -> int | None:
    """``YYYY-MM-DD`` or an ISO 8601 time (UTC unless it says otherwise) to UTC ms."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD", param_hint=what) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def parse_params(items: tuple[str, ...], hint: str = "--param") -> dict[str, str]:
    """``("a=1", "b=x")`` -> ``{"a": "1", "b": "x"}``; anything else is a usage error naming ``hint``."""
    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r}: write name=value", param_hint=hint)
        params[name.strip()] = value.strip()
    return params


def iso(ms: int) -> str:
    """UTC ms as ISO 8601 with a Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(ms: int) -> str:
    """UTC ms as ``YYYY-MM-DD HH:MM``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def console(stderr: bool = False) -> Console:
    """A rich console; when output is not a terminal, wide enough that tables are never truncated."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=140)
    return out


def cli_settings(ctx: click.Context) -> Settings:
    """The settings (defaults < .env < environment < the root group's flags), read when a command first asks
    for them; reading them also sets up logging (level, format, redaction of their secrets). A command that
    needs none never imports pydantic: start-up stays fast (bench/startup.py)."""
    root = ctx.find_root()
    if root.obj is None:  # a command invoked without the root group (tests)
        root.obj = {}
    obj = root.obj
    if obj.get("settings") is None:
        from entrypoints.logging_setup import configure_logging
        from entrypoints.settings import load_settings

        settings = load_settings(obj.get("overrides") or {}, obj.get("env_file", Path(".env")))
        configure_logging(settings.log_level, settings.log_format, settings.secrets())
        obj["settings"] = settings
    loaded: Settings = obj["settings"]
    return loaded


def container_settings(settings: Settings) -> dict[str, object]:
    """What every command's container needs from the settings (database, data and model directories)."""
    return {
        "database_url": settings.database_url.get_secret_value() if settings.database_url else None,
        "data_dir": str(settings.data_dir),
        "models_dir": str(settings.models_root()),
        "stress_windows": settings.stress_windows,
        "promotion_margin": settings.promotion_margin,
        "max_data_bytes": settings.max_data_bytes,
        "max_data_rows": settings.max_data_rows,
        "strategies_dir": str(settings.strategies_root()),
        "strategies_dir_required": settings.strategies_dir is not None,
    }
