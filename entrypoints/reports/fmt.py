"""Text for people: escaped, UTC, NaN as n/a and infinity as ∞. The CLI tables and the HTML report both
format metrics with :func:`format_metric` from here."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def esc(value: Any) -> str:
    """Any value as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def special(value: float) -> str | None:
    """``n/a`` for NaN, ``∞`` / ``-∞`` for infinities, ``None`` for a finite number."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return None


def format_metric(kind: str, value: float | None) -> str:
    """A metric as the CLI shows it: ``pct`` fractions as percentages, ``money`` with two decimals."""
    if value is None:
        return "n/a"
    value = float(value)
    if (text := special(value)) is not None:
        return text
    if kind == "pct":
        return f"{value * 100:,.2f}%"
    if kind == "count":
        return f"{int(value):,}"
    return f"{value:,.2f}"


def pct(value: float, digits: int = 2, signed: bool = False) -> str:
    if (text := special(value)) is not None:
        return text
    return f"{value * 100:{'+' if signed and value else ''},.{digits}f}%"


def money(value: float, signed: bool = False) -> str:
    if (text := special(value)) is not None:
        return text
    return f"{value:{'+' if signed and value else ''},.2f}"


def price(value: float, decimals: int | None = None) -> str:
    """A price with ``decimals`` decimals (the instrument's tick: :func:`tick_decimals`), or, when unknown,
    with as many as its size needs (BTC in thousands, small coins in fractions)."""
    if (text := special(value)) is not None:
        return text
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.2f}"
    if size >= 1:
        return f"{value:,.4f}"
    if size == 0:
        return "0"
    return f"{value:.6g}"


def tick_decimals(instruments: dict[str, dict[str, Any]], symbol: object) -> int | None:
    """How many decimals ``symbol``'s prices have on its tick (from a report's ``instruments``), or None."""
    tick = instruments.get(str(symbol), {}).get("tick_size")
    if tick is None:
        return None
    text = str(tick)
    return len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0


def quantity(value: float) -> str:
    if (text := special(value)) is not None:
        return text
    text = f"{value:,.8f}".rstrip("0").rstrip(".")
    return text or "0"


def number(value: float, digits: int = 2) -> str:
    if (text := special(value)) is not None:
        return text
    return f"{value:,.{digits}f}"


def utc(ms: int) -> str:
    """UTC ms as ``YYYY-MM-DD HH:MM``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def utc_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def duration(ms: int) -> str:
    """A span as ``3d 4h``, ``5h 30m`` or ``45m``."""
    if ms < 0:
        return "-" + duration(-ms)
    days, rest = divmod(int(ms), DAY_MS)
    hours, rest = divmod(rest, HOUR_MS)
    minutes = rest // MINUTE_MS
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def compact(value: float) -> str:
    """An axis label: ``12k``, ``1.5M``, ``0.25``."""
    if (text := special(value)) is not None:
        return text
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.4g}B"
    if size >= 1e6:
        return f"{value / 1e6:.4g}M"
    if size >= 1e4:
        return f"{value / 1e3:.4g}k"
    if size >= 1:
        return f"{value:,.6g}"
    return f"{value:.4g}"
