"""Reading a small text file that may be gzip-compressed, with one-line errors naming the file."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from application.ports.errors import MarketDataUnavailable


def read_text(path: Path, error: type[MarketDataUnavailable] = MarketDataUnavailable) -> str:
    """The file's text (UTF-8, BOM dropped), gunzipped when it starts with the gzip magic bytes.

    A missing or unreadable file, a broken gzip stream or bytes that are not UTF-8 raise ``error``.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot be read ({e.strerror or e})") from e
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise error(f"{path}: not a readable gzip file ({e})") from e
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"{path}: not a text file ({e.reason} at byte {e.start})") from e
