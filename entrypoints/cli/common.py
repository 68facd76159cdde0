"""Small helpers every ``atb`` command shares: dates in, dates out, ``name=value`` lists, consoles."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.console import Console

from entrypoints.settings import Settings


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
    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=140)
    return out


def container_settings(settings: Settings) -> dict[str, object]:
    """What every command's container needs from the settings (database, data and model directories)."""
    return {
        "database_url": settings.database_url.get_secret_value() if settings.database_url else None,
        "data_dir": str(settings.data_dir),
        "models_dir": str(settings.models_root()),
        "stress_windows": settings.stress_windows,
        "promotion_margin": settings.promotion_margin,
    }
