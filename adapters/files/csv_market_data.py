"""Read candle CSVs (plain or gzip) in atb's bundled format or in Binance's kline export format.

Formats, detected from the first line:
- atb / bundled: header ``open_time_ms,open,high,low,close,volume``;
- Binance kline export (data.binance.vision, the REST ``klines`` payload saved as CSV): 12 columns
  ``open_time, open, high, low, close, volume, close_time, quote_volume, trades, taker_base, taker_quote,
  ignore`` with no header, or with a header naming them. Open times in seconds, milliseconds or
  microseconds (Binance spot files since 2025) are all recognised by their magnitude.
Every error names the file, the line (1-based, counting ``\n`` only, as an editor and ``sed -n`` do) and the rule
broken. Lines holding only whitespace (Unicode's: a non-breaking space, a form feed, U+2028) are blank lines,
skipped like empty ones. Files are read in blocks, never whole, under caps on their decompressed size and
their rows (docs/adr/0014-bounded-input.md).
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from adapters.files.text import BLOCK_BYTES, read_blocks
from application.ports.errors import MarketDataUnavailable, UnknownSymbolError
from application.ports.market_data import DatasetInfo
from domain.model.candles import CandleSeries, infer_timeframe, validate_ohlcv
from domain.model.errors import DomainError, InvalidCandles
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

_COLUMNS = ("open_time", "open", "high", "low", "close", "volume")
_HEADER_ALIASES = {
    "open_time_ms": "open_time",
    "opentime": "open_time",
    "timestamp": "open_time",
    "time": "open_time",
}
_BUNDLED_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+)-(?P<tf>\d+[mhdw])\.csv(\.gz)?$")

# Caps on one candle file (settings ATB_MAX_DATA_BYTES and ATB_MAX_DATA_ROWS): ten years of 1-minute bars are
# 5.3 million rows, about 200 MB in atb's format and 650 MB in Binance's.
DEFAULT_MAX_BYTES = 2 << 30
DEFAULT_MAX_ROWS = 20_000_000
BYTES_SETTING = "ATB_MAX_DATA_BYTES"
ROWS_SETTING = "ATB_MAX_DATA_ROWS"
# What the C parser of pandas reads as a number (for naming the field it refused), and what it reads as NaN
# (kept as NaN: the candle rules then refuse the row, naming the column).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf(?:inity)?", re.IGNORECASE)
_NAN = ["", "nan", "NaN", "NAN", "-nan", "-NaN"]
_ASCII_SPACE = " \t\r\x0b\x0c"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Layout:
    """Where the six columns are in a file's rows, and how many fields each row has."""

    def __init__(self, path: Path, first_line: str) -> None:
        fields = [f.strip().strip('"').strip().lower() for f in first_line.split(",")]
        self.has_header = not _is_number(fields[0])
        if self.has_header:
            names = [_HEADER_ALIASES.get(f, f) for f in fields]
            missing = [c for c in _COLUMNS if c not in names]
            if missing:
                raise MarketDataUnavailable(
                    f"{path}, line 1: unrecognised header (missing {', '.join(missing)}); expected "
                    "open_time_ms,open,high,low,close,volume or Binance's kline columns"
                )
            self.positions = [names.index(c) for c in _COLUMNS]
        elif len(fields) in (6, 12):
            self.positions = list(range(6))
        else:
            raise MarketDataUnavailable(
                f"{path}, line 1: {len(fields)} columns; expected 6 (atb format) or 12 (Binance kline export)"
            )
        self.fields = len(fields)


def _parse(data: bytes, layout: _Layout) -> pd.DataFrame:
    """Every row of ``data`` (no header) with the six columns as float64; the C parser, nothing skipped."""
    return pd.read_csv(
        io.BytesIO(data),
        header=None,
        names=list(range(layout.fields)),
        index_col=False,
        dtype=dict.fromkeys(layout.positions, np.float64),
        sep=",",
        lineterminator="\n",
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        na_values=_NAN,
        skip_blank_lines=False,
        low_memory=False,
        engine="c",
    )


def _columns(frame: pd.DataFrame, layout: _Layout) -> list[npt.NDArray[np.float64]]:
    # Views or copies: they are copied into the file's columns (_Store) before the next block.
    return [frame[p].to_numpy(dtype=np.float64) for p in layout.positions]


def _parse_block(
    path: Path, block: bytes, line: int, layout: _Layout
) -> tuple[list[npt.NDArray[np.float64]], int | npt.NDArray[np.int64]]:
    """The six float columns of a block's rows, and where the rows are: ``line`` (int, rows on consecutive
    lines from there) or each row's line number.

    Fast path: the whole block through the C parser; it holds when every line is a row with every field
    filled. Otherwise (blank lines, wrong field counts, text, empty fields) the lines are checked one by one:
    whitespace-only lines are skipped, a wrong field count or a field that is not a number is an error naming
    its line, and the remaining rows are parsed again (empty fields and ``nan`` become NaN, which the candle
    rules then refuse with the row's line).
    """
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
    if b'"' in block:  # quoted numbers ("1.5", as some exporters write them): the quotes go
        block = block.replace(b'"', b"")
    rows = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    try:
        frame = _parse(block, layout)
        if len(frame) == rows and not frame.isna().to_numpy().any():
            return _columns(frame, layout), line
    except (ValueError, pd.errors.ParserError):
        pass
    kept: list[str] = []
    numbers: list[int] = []
    for i, text in enumerate(block.decode("utf-8").split("\n")):
        if not text.strip():  # empty, or only (Unicode) whitespace: NBSP, form feed, U+2028 ...
            continue
        count = text.count(",") + 1
        if count != layout.fields:
            raise MarketDataUnavailable(f"{path}, line {line + i}: {count} fields, expected {layout.fields}")
        kept.append(text)
        numbers.append(line + i)
    if not kept:
        return [np.empty(0) for _ in _COLUMNS], np.empty(0, dtype=np.int64)
    try:
        frame = _parse(("\n".join(kept) + "\n").encode("utf-8"), layout)
    except (ValueError, pd.errors.ParserError) as e:
        for text, number in zip(kept, numbers, strict=True):
            fields = text.split(",")
            for name, position in zip(_COLUMNS, layout.positions, strict=True):
                value = fields[position].strip(_ASCII_SPACE)
                if value not in _NAN and not _NUMBER.fullmatch(value):
                    raise MarketDataUnavailable(f"{path}, line {number}: {name} is not a number ({value!r})") from e
        raise MarketDataUnavailable(
            f"{path}, lines {numbers[0]}-{numbers[-1]}: malformed CSV ({str(e).strip()})"
        ) from e
    return _columns(frame, layout), np.asarray(numbers, dtype=np.int64)


def _time_unit(first: float) -> int:
    """How open times are written, judged by the magnitude of the file's first: 1 s, 0 ms, -1 µs."""
    if first >= 1e14:
        return -1
    if first < 1e11:
        return 1
    return 0


def _to_ms(times: npt.NDArray[np.float64], unit: int) -> npt.NDArray[np.int64]:
    """Open times in UTC ms, whatever unit the file used."""
    if unit < 0:  # microseconds
        return (times // 1000).astype(np.int64)
    if unit > 0:  # seconds
        return (times * 1000).astype(np.int64)
    return times.astype(np.int64)


class _Store:
    """The six columns, written in place into arrays sized for the most rows the file can hold.

    Untouched pages of an ``np.empty`` array are not memory yet: the resident size is the rows written, and
    there are no pieces to join at the end (joining would hold every row twice). A file with more rows than
    foreseen doubles the arrays, one column at a time.
    """

    def __init__(self, capacity: int) -> None:
        self.rows = 0
        self.arrays: list[npt.NDArray[Any]] = [np.empty(capacity, dtype=np.int64)]
        self.arrays += [np.empty(capacity, dtype=np.float64) for _ in _COLUMNS[1:]]

    def append(self, columns: list[npt.NDArray[Any]]) -> None:
        n = columns[0].shape[0]
        end = self.rows + n
        if end > self.arrays[0].shape[0]:
            self._resize(max(end, 2 * self.arrays[0].shape[0]))
        for array, column in zip(self.arrays, columns, strict=True):
            array[self.rows : end] = column
        self.rows = end

    def _resize(self, capacity: int) -> None:
        for i in range(len(self.arrays)):
            old = self.arrays[i]
            self.arrays[i] = np.empty(capacity, dtype=old.dtype)
            self.arrays[i][: self.rows] = old[: self.rows]
            del old

    def columns(self) -> list[npt.NDArray[Any]]:
        """The rows written, as arrays of their own (the spare capacity is given back, a column at a time)."""
        if self.arrays[0].shape[0] != self.rows:
            self._resize(self.rows)
        return self.arrays


def read_candle_file(
    path: Path,
    symbol: Symbol,
    timeframe: Timeframe | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    block_bytes: int = BLOCK_BYTES,
) -> CandleSeries:
    """Read and validate one candle file. ``timeframe`` None: inferred from the bars' spacing; given:
    checked against the spacing.

    The file is read in blocks of about ``block_bytes`` (decompressed) and each block is parsed and checked
    against the candle rules (with the previous block's last row, for the order) before the next is read,
    so a bad file stops at its first bad block. More than ``max_bytes`` of text or ``max_rows`` rows is an
    error. Memory: the rows kept (48 bytes each) plus a block or two, whatever the file's size.
    """
    if not path.is_file():
        raise MarketDataUnavailable(f"{path}: no such file")
    try:
        return _read(path, symbol, timeframe, max_bytes, max_rows, block_bytes)
    except MemoryError:
        raise MarketDataUnavailable(
            f"{path}: not enough memory to read it; lower {ROWS_SETTING} to refuse files this large early"
        ) from None


def _read(
    path: Path, symbol: Symbol, timeframe: Timeframe | None, max_bytes: int, max_rows: int, block_bytes: int
) -> CandleSeries:
    layout: _Layout | None = None
    unit = 0
    store: _Store | None = None
    rows = 0
    last: list[npt.NDArray[Any]] | None = None  # the previous block's last row, for the order rules
    blocks = read_blocks(path, max_bytes=max_bytes, block_bytes=block_bytes, setting=BYTES_SETTING)
    for first_line, first_block in blocks:
        line, block = first_line, first_block
        if not block.strip():  # only blank lines (ASCII whitespace): nothing to parse
            continue
        if layout is None:
            text = ""
            while block:  # skip leading blank lines, then read the header or the first row's shape
                end = block.find(b"\n") + 1 or len(block)
                text = block[:end].decode("utf-8")
                if text.strip():
                    break
                block, line = block[end:], line + 1
            if not block:
                continue
            layout = _Layout(path, text)
            if layout.has_header:
                block, line = block[end:], line + 1
                if not block.strip():
                    continue
        columns, where = _parse_block(path, block, line, layout)
        n = columns[0].shape[0]
        if n == 0:
            continue
        if rows + n > max_rows:
            raise MarketDataUnavailable(
                f"{path}: more than {max_rows:,} rows (the limit); raise {ROWS_SETTING} to read it"
            )

        def line_of(row: int, where: int | npt.NDArray[np.int64] = where) -> int:
            return where + row if isinstance(where, int) else int(where[row])

        times_f = columns[0]
        bad_time = ~np.isfinite(times_f)
        if bad_time.any():
            row = int(np.argmax(bad_time))
            what = "missing" if np.isnan(times_f[row]) else "not finite"
            raise MarketDataUnavailable(f"{path}, line {line_of(row)}: open time is {what}")
        if rows == 0:
            unit = _time_unit(float(times_f[0]))
        block_cols: list[npt.NDArray[Any]] = [_to_ms(times_f, unit), *columns[1:]]
        checked = block_cols if last is None else [np.concatenate(ab) for ab in zip(last, block_cols, strict=True)]
        try:
            validate_ohlcv(*checked)
        except InvalidCandles as e:
            raise MarketDataUnavailable(f"{path}, line {line_of(e.row - (last is not None))}: {e.rule}") from e
        last = [a[-1:].copy() for a in block_cols]
        if store is None:
            store = _Store(_capacity(path, block, n, max_bytes, max_rows))
        store.append(block_cols)
        rows += n
    if layout is None:
        raise MarketDataUnavailable(f"{path}: the file is empty")
    if store is None:
        raise MarketDataUnavailable(f"{path}: no candle rows")
    times, open_, high, low, close, volume = store.columns()
    inferred = checked_timeframe(times, timeframe, str(path), MarketDataUnavailable)
    for a in (times, open_, high, low, close, volume):
        a.setflags(write=False)
    # Every block passed validate_ohlcv, the first row of each together with the previous block's last: the
    # series is what CandleSeries.from_arrays would build, without its copy of every column.
    return CandleSeries(symbol, inferred, times, open_, high, low, close, volume)


def checked_timeframe(
    times: np.ndarray, timeframe: Timeframe | None, where: str, error: type[Exception]
) -> Timeframe:
    """The timeframe of bars opening at ``times``: inferred from their spacing, and equal to ``timeframe`` when
    one is given (a single bar takes ``timeframe``); else ``error`` naming ``where``, one line."""
    try:
        inferred = infer_timeframe(times) if times.shape[0] >= 2 else timeframe
    except DomainError as e:
        raise error(f"{where}: {e}") from e
    if inferred is None:
        raise error(f"{where}: one bar is not enough to tell the timeframe")
    if timeframe is not None and inferred is not timeframe:
        raise error(f"{where} holds {inferred.value} bars, not {timeframe.value}")
    return inferred


def _capacity(path: Path, first_block: bytes, first_rows: int, max_bytes: int, max_rows: int) -> int:
    """How many rows the file may hold: its size (a gzip file's cap on text) over the first block's bytes per
    row, with a third to spare (the rows not written cost no memory), at most ``max_rows``."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if f.read(2) == b"\x1f\x8b":
            size = max_bytes
    per_row = max(len(first_block) / first_rows, 1.0)
    return max(1, min(max_rows, int(size / per_row * 4 / 3) + 1024))


def _slice(series: CandleSeries, start_ms: int | None, end_ms: int | None, source: str) -> CandleSeries:
    part = series.between(start_ms, end_ms)
    if len(part) == 0:
        from datetime import UTC, datetime

        def day(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")

        raise MarketDataUnavailable(
            f"{source} has no {series.symbol} bars in the requested range; it covers "
            f"{day(series.start_ms)} to {day(series.end_ms)} UTC"
        )
    return part


def _info(series: CandleSeries, source: str) -> DatasetInfo:
    return DatasetInfo(
        series.symbol, series.timeframe, series.start_ms, series.end_ms, len(series), series.gaps(), source
    )


class CsvMarketData:
    """One user file as a ``MarketData`` source. The symbol comes from the caller or the file name."""

    def __init__(
        self,
        path: Path,
        symbol: Symbol | None = None,
        timeframe: Timeframe | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self._path = Path(path)
        self._max_bytes = max_bytes
        self._max_rows = max_rows
        if not self._path.is_file():
            raise MarketDataUnavailable(f"{self._path}: no such file")
        if symbol is None:
            stem = self._path.name.split(".")[0]
            guess = re.split(r"[-_ ]", stem)[0]
            try:
                symbol = Symbol.parse(guess)
            except DomainError:
                raise MarketDataUnavailable(
                    f"{self._path}: cannot tell the symbol from the file name; pass --symbol"
                ) from None
        self._symbol = symbol
        self._timeframe = timeframe
        self._series: CandleSeries | None = None

    @property
    def symbol(self) -> Symbol:
        return self._symbol

    @property
    def path(self) -> Path:
        return self._path

    def _load(self) -> CandleSeries:
        if self._series is None:
            self._series = read_candle_file(
                self._path, self._symbol, self._timeframe, max_bytes=self._max_bytes, max_rows=self._max_rows
            )
        return self._series

    def candles(
        self, symbol: Symbol, timeframe: Timeframe, start_ms: int | None = None, end_ms: int | None = None
    ) -> CandleSeries:
        series = self._load()
        if symbol != series.symbol:
            raise UnknownSymbolError(str(symbol), [str(series.symbol)])
        if timeframe != series.timeframe:
            raise MarketDataUnavailable(f"{self._path} holds {series.timeframe.value} bars, not {timeframe.value}")
        return _slice(series, start_ms, end_ms, str(self._path))

    def datasets(self) -> list[DatasetInfo]:
        return [_info(self._load(), str(self._path))]


class CsvFilesMarketData:
    """Several user files as one ``MarketData`` source, one symbol per file (a portfolio of files)."""

    def __init__(self, sources: list[CsvMarketData]) -> None:
        self._sources: dict[Symbol, CsvMarketData] = {}
        for source in sources:
            other = self._sources.get(source.symbol)
            if other is not None:
                raise MarketDataUnavailable(
                    f"{other.path} and {source.path} both hold {source.symbol}; give one file per symbol "
                    "(--symbol names them in the order of the files)"
                )
            self._sources[source.symbol] = source

    def candles(
        self, symbol: Symbol, timeframe: Timeframe, start_ms: int | None = None, end_ms: int | None = None
    ) -> CandleSeries:
        source = self._sources.get(symbol)
        if source is None:
            raise UnknownSymbolError(str(symbol), [str(s) for s in self._sources])
        return source.candles(symbol, timeframe, start_ms, end_ms)

    def datasets(self) -> list[DatasetInfo]:
        return [info for source in self._sources.values() for info in source.datasets()]


@lru_cache(maxsize=8)
def _bundled_series(name: str, symbol: Symbol, timeframe: Timeframe) -> CandleSeries:
    ref = resources.files("adapters.files").joinpath("bundled").joinpath(name)
    with resources.as_file(ref) as path:
        return read_candle_file(path, symbol, timeframe)


class BundledMarketData:
    """The real Binance candles shipped inside the package (see docs/data.md)."""

    def _files(self) -> dict[tuple[Symbol, Timeframe], str]:
        found: dict[tuple[Symbol, Timeframe], str] = {}
        for entry in resources.files("adapters.files").joinpath("bundled").iterdir():
            m = _BUNDLED_NAME.match(entry.name)
            if m:
                found[(Symbol.parse(m["symbol"]), Timeframe.parse(m["tf"]))] = entry.name
        return found

    def symbols(self) -> list[str]:
        return sorted({str(s) for s, _ in self._files()})

    def candles(
        self, symbol: Symbol, timeframe: Timeframe, start_ms: int | None = None, end_ms: int | None = None
    ) -> CandleSeries:
        files = self._files()
        name = files.get((symbol, timeframe))
        if name is None:
            if not any(s == symbol for s, _ in files):
                raise UnknownSymbolError(str(symbol), self.symbols())
            have = sorted(tf.value for s, tf in files if s == symbol)
            raise MarketDataUnavailable(
                f"no bundled {timeframe.value} candles for {symbol}; bundled timeframes: {', '.join(have)}"
            )
        return _slice(_bundled_series(name, symbol, timeframe), start_ms, end_ms, "bundled data")

    def datasets(self) -> list[DatasetInfo]:
        return [
            _info(_bundled_series(name, s, tf), f"bundled:{name}")
            for (s, tf), name in sorted(self._files().items(), key=lambda kv: kv[1])
        ]
