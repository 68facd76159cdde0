"""Small helpers every ``atb`` command shares: dates in, dates out, ``name=value`` lists, consoles."""

from __future__ import annotations

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


def check_output_path(path: Path, flag: str, protected: dict[str, Path | None] | None = None) -> None:
    """Refuse, before any work, an output file that cannot be written: a missing or unwritable directory,
    a directory, an unwritable file, or a file the run reads or keeps (``protected``: what -> path)."""
    target = path.expanduser()
    resolved = target.resolve()
    for what, other in (protected or {}).items():
        if other is not None and resolved == other.expanduser().resolve():
            raise CliError(f"{flag} {path}: that is the {what}; writing the report would overwrite it")
    if target.is_dir():
        raise CliError(f"{flag} {path}: is a directory; name a file")
    parent = resolved.parent
    if not parent.exists():
        raise CliError(f"{flag} {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise CliError(f"{flag} {path}: {parent} is not a directory")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise CliError(f"{flag} {path}: file is not writable")
    elif not os.access(parent, os.W_OK | os.X_OK):
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
    }
