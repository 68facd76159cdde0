"""Reading text files that may be gzip-compressed, in bounded blocks, with one-line errors naming the file.

A file is read block by block (gunzipped on the fly when it starts with the gzip magic bytes), never whole:
the total of decompressed bytes is capped (``max_bytes``), a line may not be longer than ``max_line`` bytes (a
gzip bomb of zeros has no line ends and stops at its first block), and each block ends just after a ``\\n``
so that lines are never cut. Lines are counted by ``\\n`` only, as editors and ``sed -n`` count them.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from application.ports.errors import MarketDataUnavailable

BLOCK_BYTES = 2 << 20  # decompressed bytes per block: the parser's working set stays about 30 MB
MAX_LINE_BYTES = 64 << 10  # no CSV line of atb's is near this; a longer one means a binary or hostile file
TEXT_MAX_BYTES = 64 << 20  # read_text's default cap (small files: the Fear & Greed index is 50 kB)
_BOM = b"\xef\xbb\xbf"


def size_text(n: int) -> str:
    """``n`` bytes for a person: 2 GiB, 64 MiB, 1.5 kB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _too_big(path: Path, max_bytes: int, gz: bool, setting: str | None) -> str:
    what = "once decompressed " if gz else ""
    how = f"; raise {setting} (bytes) to read it" if setting else ""
    return f"{path}: more than {size_text(max_bytes)} {what}({max_bytes:,} bytes, the limit{how})"


def read_blocks(
    path: Path,
    *,
    max_bytes: int,
    error: type[MarketDataUnavailable] = MarketDataUnavailable,
    block_bytes: int = BLOCK_BYTES,
    max_line: int = MAX_LINE_BYTES,
    setting: str | None = None,
) -> Iterator[tuple[int, bytes]]:
    """``(line, block)`` pairs: each block is UTF-8 bytes (BOM dropped) ending just after a ``\\n`` (the last
    one may end without), and ``line`` is the 1-based number of its first line.

    Raises ``error`` (one line naming the file) for a missing or unreadable file, a broken gzip stream, bytes
    that are not UTF-8, a line longer than ``max_line`` bytes, or more than ``max_bytes`` bytes of text
    (decompressed); ``setting`` names what raises that cap. Memory: about two blocks, whatever the file.
    """
    try:
        handle = path.open("rb")
    except OSError as e:
        raise error(f"{path}: cannot be read ({e.strerror or e})") from e
    with handle:
        try:
            gz = handle.read(2) == b"\x1f\x8b"
            handle.seek(0)
            if not gz and os.fstat(handle.fileno()).st_size > max_bytes:
                raise error(_too_big(path, max_bytes, False, setting))
        except OSError as e:
            raise error(f"{path}: cannot be read ({e.strerror or e})") from e
        # Both are buffered binary streams: the file itself, or its gunzipped bytes.
        stream: io.BufferedIOBase = gzip.GzipFile(fileobj=handle, mode="rb") if gz else handle
        yield from _blocks(path, stream, gz, max_bytes, error, block_bytes, max_line, setting)


def _blocks(
    path: Path,
    stream: io.BufferedIOBase,
    gz: bool,
    max_bytes: int,
    error: type[MarketDataUnavailable],
    block_bytes: int,
    max_line: int,
    setting: str | None,
) -> Iterator[tuple[int, bytes]]:
    line = 1
    total = 0  # decompressed bytes read
    offset = 0  # where the pending text starts in the decompressed file (for encoding errors)
    carry = b""
    first = True
    while True:
        try:
            chunk = stream.read(block_bytes)
        except (OSError, EOFError, zlib.error) as e:
            if gz:
                raise error(f"{path}: not a readable gzip file ({e})") from e
            raise error(f"{path}: cannot be read ({e.strerror if isinstance(e, OSError) else e})") from e
        total += len(chunk)
        if total > max_bytes:
            raise error(_too_big(path, max_bytes, gz, setting))
        data = carry + chunk if carry else chunk
        if chunk:
            cut = data.rfind(b"\n") + 1
            if len(data) - cut > max_line:
                where = line + data.count(b"\n", 0, cut)
                raise error(f"{path}, line {where}: longer than {max_line:,} bytes; not a CSV text file")
            if cut == 0:
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
        elif not data:
            return
        else:
            block, carry = data, b""
        if first:
            first = False
            if block.startswith(_BOM):
                block = block[len(_BOM) :]
                offset += len(_BOM)
        if not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as e:
                raise error(f"{path}: not a text file ({e.reason} at byte {offset + e.start})") from e
        yield line, block
        if not chunk:
            return
        line += block.count(b"\n")
        offset += len(block)


def read_text(
    path: Path, error: type[MarketDataUnavailable] = MarketDataUnavailable, max_bytes: int = TEXT_MAX_BYTES
) -> str:
    """The file's text (UTF-8, BOM dropped), gunzipped when it starts with the gzip magic bytes.

    A missing or unreadable file, a broken gzip stream, bytes that are not UTF-8, or more than ``max_bytes``
    of text raise ``error``.
    """
    return b"".join(block for _, block in read_blocks(path, max_bytes=max_bytes, error=error)).decode("utf-8")
