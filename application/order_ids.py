"""Client order ids derived from the decision, not from a counter (docs/order-ids.md, ADR 0024).

An id names one decision: the session that took it, the symbol, the open time of the bar whose close
decided it, what it is for (the intent) and, for a decision taken again on the same bar and intent (a
stop moved once more), a revision. The same decision gives the same id after a restart; a different
decision gives a different id. Every id is at most 36 characters of ``[A-Za-z0-9_-]``: valid as a Binance
``newClientOrderId`` (``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``) and as a Coinbase ``client_order_id``.

Format: ``{session}-{symbol}-{bar}-{intent}{revision}``, for example ``bt-BTCUSDT-mfr6hc0-s3``:

- ``session``: 1 to 6 of ``[A-Za-z0-9]`` as given; anything else becomes ``_`` and 5 base-36 characters
  of its hash;
- ``symbol``: the exchange form (``BTCUSDT``) when it is 1 to 12 of ``[A-Za-z0-9]``; a longer one becomes
  its first 7 letters and digits, ``_`` and 4 base-36 characters of its hash (``1000000_k2x9``);
- ``bar``: the bar's open time in milliseconds, in base 36 (lower case, no leading zeros; 8 characters
  until 2059, at most 9);
- ``intent``: ``e`` entry, ``x`` exit, ``s`` stop, ``l`` liquidation, ``t`` and the take-profit's number
  in base 36 (``t1``, ``t2`` ...);
- ``revision``: base 36, omitted when 0.

The longest id is 6 + 12 + 9 + 5 + 3 separators = 35 characters. Hashed parts are told apart from written
ones by the ``_`` that written ones cannot contain, so two decisions share an id only if two long symbols
(or sessions) share a 4-character (5-character) hash and their first characters: the parser still
recovers the bar, intent and revision of every id, and the symbol where it was written out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

MAX_LENGTH = 36
VENUE_SAFE = re.compile(r"[A-Za-z0-9_-]{1,36}")  # the subset of Binance's alphabet that Coinbase also takes
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_SESSION_MAX = 6
_SYMBOL_MAX = 12
_SYMBOL_HEAD = 7  # written characters of a compressed symbol, before "_" and its 4-character hash
_MAX_BAR_MS = 36**9  # 9 base-36 digits: the year 5138
_MAX_INTENT = 5  # characters of intent and revision together
_PLAIN_SESSION = re.compile(r"[A-Za-z0-9]{1,6}")
_HASHED_SESSION = re.compile(r"_[0-9a-z]{5}")
_PLAIN_SYMBOL = re.compile(r"[A-Za-z0-9]{1,12}")
_HASHED_SYMBOL = re.compile(r"[A-Za-z0-9]{0,7}_[0-9a-z]{4}")
_INTENT = re.compile(r"[exsl]|t[1-9a-z]")
_ID = re.compile(
    r"(?P<session>[A-Za-z0-9]{1,6}|_[0-9a-z]{5})-(?P<symbol>[A-Za-z0-9]{1,12}|[A-Za-z0-9]{0,7}_[0-9a-z]{4})"
    r"-(?P<bar>0|[1-9a-z][0-9a-z]{0,8})-(?P<last>(?P<intent>[exsl]|t[1-9a-z])(?P<revision>[1-9a-z][0-9a-z]{0,3})?)"
)
ENTRY, EXIT, STOP, LIQUIDATION = "e", "x", "s", "l"


def take_profit(n: int) -> str:
    """The intent of the ``n``-th take-profit of a ladder (1 to 35)."""
    if not 1 <= n < 36:
        raise ValueError(f"take-profit number {n} is not in 1..35")
    return "t" + _DIGITS[n]


@dataclass(frozen=True, slots=True)
class OrderIdParts:
    """What :func:`parse_order_id` recovers. ``session`` and ``symbol`` are the parts as written in the id
    (:func:`session_key`, :func:`symbol_key`): a hashed part starts with, or contains, ``_``."""

    session: str
    symbol: str
    bar_open_ms: int
    intent: str
    revision: int

    @property
    def client_order_id(self) -> str:
        return order_id(self.session, self.symbol, self.bar_open_ms, self.intent, self.revision)


@lru_cache(maxsize=4096)  # a run names several orders per bar: each bar's time is written once
def _base36(value: int) -> str:
    if value < 36:
        return _DIGITS[value]
    out = ""
    while value:
        value, r = divmod(value, 36)
        out = _DIGITS[r] + out
    return out


def _hash36(text: str, width: int) -> str:
    digest = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return _base36(digest % 36**width).rjust(width, "0")


@lru_cache(maxsize=256)
def session_key(session: str) -> str:
    """The session as it appears in ids: itself when it is 1 to 6 letters and digits (or already a key),
    else ``_`` and a 5-character hash of it."""
    if _PLAIN_SESSION.fullmatch(session) or _HASHED_SESSION.fullmatch(session):
        return session
    return "_" + _hash36(session, 5)


def symbol_key(symbol: object) -> str:
    """The symbol as it appears in ids: its exchange form (``str(symbol)``) when that is 1 to 12 letters and
    digits (or already a key), else its first 7 letters and digits, ``_`` and a 4-character hash of it."""
    return _symbol_key(str(symbol))


@lru_cache(maxsize=1024)
def _symbol_key(text: str) -> str:
    if _PLAIN_SYMBOL.fullmatch(text) or _HASHED_SYMBOL.fullmatch(text):
        return text
    head = "".join(c for c in text if c.isascii() and c.isalnum())[:_SYMBOL_HEAD]
    return f"{head}_{_hash36(text, 4)}"


def order_id(session: str, symbol: object, bar_open_ms: int, intent: str, revision: int = 0) -> str:
    """The client order id of a decision (see the module docstring). ``bar_open_ms``: the open time (UTC,
    ms) of the bar whose close decided the order; ``intent``: ``e``, ``x``, ``s``, ``l`` or
    :func:`take_profit`; ``revision``: the decision's revision on that bar and intent (0 for the first).
    Raises ``ValueError`` for an intent it does not know, a negative or too distant time, or a revision
    that does not fit."""
    if not 0 <= bar_open_ms < _MAX_BAR_MS:
        raise ValueError(f"bar open time {bar_open_ms} is not in [0, 36**9) ms")
    return f"{session_key(session)}-{symbol_key(symbol)}-{_base36(bar_open_ms)}-{_last(intent, revision)}"


@lru_cache(maxsize=1024)
def _last(intent: str, revision: int) -> str:
    """The id's last part: the intent and the revision (omitted when 0)."""
    if revision < 0:
        raise ValueError(f"revision {revision} is negative")
    if not _INTENT.fullmatch(intent):
        raise ValueError(f"intent {intent!r} is not e, x, s, l or t1..tz")
    last = intent + (_base36(revision) if revision else "")
    if len(last) > _MAX_INTENT:
        raise ValueError(f"intent {intent!r} with revision {revision} does not fit in an order id")
    return last


@lru_cache(maxsize=1024)  # the venue derives an entry's stop and targets from it: parsed once
def parse_order_id(client_order_id: str) -> OrderIdParts | None:
    """The parts of an id :func:`order_id` made; None for any other id (an order this system did not
    name, or not named this way)."""
    match = _ID.fullmatch(client_order_id)
    if match is None or len(match["last"]) > _MAX_INTENT:
        return None
    revision = match["revision"]
    return OrderIdParts(
        match["session"], match["symbol"], int(match["bar"], 36), match["intent"], int(revision, 36) if revision else 0
    )


def derived_id(parent: str, intent: str, revision: int = 0) -> str:
    """The id of an order that follows from another one (an entry's attached stop ``s`` or take-profit
    ``t1``...): the parent's session, symbol and bar with this intent and revision. A parent not named by
    :func:`order_id` gives ``{parent}-{intent}{revision}`` when that is venue-safe, else a hash of the
    parent with the intent: still deterministic, at most 36 characters of ``[A-Za-z0-9_-]``."""
    last = _last(intent, revision)
    match = _ID.fullmatch(parent)
    if match is not None and len(match["last"]) <= _MAX_INTENT:  # the parent's session, symbol and bar
        return f"{parent[: match.start('last')]}{last}"
    plain = f"{parent}-{last}"
    if VENUE_SAFE.fullmatch(plain):
        return plain
    return f"_{_hash36(parent, 12)}-{last}"


def is_venue_safe(client_order_id: str) -> bool:
    """Whether an id is at most 36 characters of ``[A-Za-z0-9_-]`` (what every venue adapter may send)."""
    return VENUE_SAFE.fullmatch(client_order_id) is not None
