"""The one rule for names that become paths or keys (ADR 0015).

A name the user gives that atb turns into a path (a model's symbol, type and version; any other registry
entry) must match :data:`NAME_PATTERN`: 1 to 64 characters, letters, digits, ``.``, ``_`` and ``-``, starting
with a letter or a digit, and not one of :data:`RESERVED` (the file names the model registry keeps for itself
beside the versions). So it can never be ``.`` or ``..``, hidden, absolute, hold a separator (``/``,
``\\``), a ``%`` escape, NUL, a newline or any other control or non-ASCII character. A symbol is stricter
(:data:`SYMBOL_PATTERN`: upper-case letters and digits, as ``BTCUSDT``). A session id is an integer in
``1 .. 2**63 - 1`` (a 64-bit database key).

The rule is checked where the name comes in (the CLI, before any work) and again where the path is built
(the registry adapter, which also resolves the path, symlinks included, and refuses one that leaves its root).
"""

from __future__ import annotations

import re

from application.ports.errors import ApplicationError

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SYMBOL_PATTERN = r"[A-Z0-9]{1,32}"
SESSION_ID_MAX = 2**63 - 1
RESERVED = ("latest", "history.jsonl")

_NAME = re.compile(NAME_PATTERN)
_SYMBOL = re.compile(SYMBOL_PATTERN)
_SHOWN = 40  # characters of a refused name quoted back


class InvalidName(ApplicationError):
    """A name that breaks the naming rule; the message quotes it on one line (escaped, cut short)."""


def shown(value: object) -> str:
    """``value`` quoted for a one-line message: control characters escaped, at most ~40 characters."""
    text = str(value)
    cut = text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
    suffix = f" ({len(text)} characters)" if len(text) > _SHOWN else ""
    return ascii(cut) + suffix


def is_name(value: str) -> bool:
    """Whether ``value`` follows the naming rule (see :func:`check_name`)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and value not in (".", "..", *RESERVED)


def is_symbol(value: str) -> bool:
    """Whether ``value`` is upper-case letters and digits (see :func:`check_symbol`)."""
    return isinstance(value, str) and _SYMBOL.fullmatch(value) is not None


def check_name(kind: str, value: str) -> str:
    """``value`` if it follows the naming rule, else :class:`InvalidName` naming ``kind``."""
    if value in RESERVED:
        raise InvalidName(f"invalid {kind} {value!r}: atb keeps that name for itself")
    if not is_name(value):
        raise InvalidName(
            f"invalid {kind} {shown(value)}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
            "or a digit"
        )
    return value


def check_symbol(value: str, kind: str = "symbol") -> str:
    """``value`` if it is upper-case letters and digits (e.g. ``BTCUSDT``), else :class:`InvalidName`."""
    if not is_symbol(value):
        raise InvalidName(f"invalid {kind} {shown(value)}: use upper-case letters and digits, e.g. BTCUSDT")
    return value


def check_session_id(value: int) -> int:
    """``value`` if it is a session id (``1 .. 2**63 - 1``), else :class:`InvalidName`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SESSION_ID_MAX:
        raise InvalidName(
            f"invalid session id {shown(value)}: a session id is a whole number from 1 to {SESSION_ID_MAX}"
        )
    return value
