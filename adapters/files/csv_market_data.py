"""Read candle CSVs (plain or gzip) in atb's bundled format or in Binance's kline export format.

Formats, detected from the first line:
- atb / bundled: header ``open_time_ms,open,high,low,close,volume``;
- Binance kline export (data.binance.vision, the REST ``klines`` payload saved as CSV): 12 columns
  ``open_time, open, high, low, close, volume, close_time, quote_volume, trades, taker_base, taker_quote,
  ignore`` with no header, or with a header naming them. Open times in seconds, milliseconds or
  microseconds (Binance spot files since 2025) are all recognised by their magnitude.
Every error names the file, the line (1-based, as an editor shows it) and the rule broken.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from adapters.files.text import read_text
from application.ports.errors import MarketDataUnavailable, UnknownSymbolError
from application.ports.market_data import DatasetInfo
from domain.model.candles import CandleSeries, infer_timeframe
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _to_ms(times: np.ndarray) -> np.ndarray:
    """Open times in UTC ms, whatever unit the file used (judged by magnitude of the first time)."""
    first = float(times[0]) if times.size else 0.0
    if first >= 1e14:  # microseconds
        return (times // 1000).astype(np.int64)
    if first < 1e11:  # seconds
        return (times * 1000).astype(np.int64)
    return times.astype(np.int64)


def _data_line_numbers(text: str, skip: int) -> list[int]:
    """1-based file line of each data row (pandas skips blank lines, an editor counts them)."""
    lines = text.splitlines()
    return [i + 1 for i, line in enumerate(lines) if i >= skip and line.strip()]


_TOKENIZE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_candle_file(path: Path, symbol: Symbol, timeframe: Timeframe | None = None) -> CandleSeries:
    """Read and validate one candle file. ``timeframe`` None: inferred from the bars' spacing; given:
    checked against the spacing."""
    if not path.is_file():
        raise MarketDataUnavailable(f"{path}: no such file")
    text = read_text(path)
    first_line = text.split("\n", 1)[0]
    fields = [f.strip().lower() for f in first_line.split(",")]
    if not first_line.strip():
        raise MarketDataUnavailable(f"{path}: the file is empty")
    has_header = not _is_number(fields[0])
    if has_header:
        names = [_HEADER_ALIASES.get(f, f) for f in fields]
        missing = [c for c in _COLUMNS if c not in names]
        if missing:
            raise MarketDataUnavailable(
                f"{path}, line 1: unrecognised header (missing {', '.join(missing)}); expected "
                "open_time_ms,open,high,low,close,volume or Binance's kline columns"
            )
        positions = [names.index(c) for c in _COLUMNS]
    elif len(fields) in (6, 12):
        positions = list(range(6))
    else:
        raise MarketDataUnavailable(
            f"{path}, line 1: {len(fields)} columns; expected 6 (atb format) or 12 (Binance kline export)"
        )
    skip = 1 if has_header else 0
    try:
        # Every column is read (as text), so a row with an extra field is an error, not silently cut.
        frame = pd.read_csv(io.StringIO(text), header=None, skiprows=skip, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as e:
        m = _TOKENIZE.search(str(e))
        if m:
            raise MarketDataUnavailable(f"{path}, line {m[2]}: {m[3]} fields, expected {m[1]}") from e
        raise MarketDataUnavailable(f"{path}: malformed CSV ({str(e).strip()})") from e
    except ValueError as e:
        raise MarketDataUnavailable(f"{path}: malformed CSV ({str(e).strip()})") from e
    if frame.empty:
        raise MarketDataUnavailable(f"{path}: no candle rows")

    def line(row: int) -> int:
        return _data_line_numbers(text, skip)[row]

    columns: dict[str, np.ndarray] = {}
    for name, position in zip(_COLUMNS, positions, strict=True):
        raw = frame[position].str.strip()
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(values) & ~raw.str.lower().isin(["nan", ""]).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise MarketDataUnavailable(f"{path}, line {line(row)}: {name} is not a number ({raw.iloc[row]!r})")
        columns[name] = values
    times_f = columns["open_time"]
    if np.isnan(times_f).any():
        row = int(np.argmax(np.isnan(times_f)))
        raise MarketDataUnavailable(f"{path}, line {line(row)}: open time is missing")
    times = _to_ms(times_f)
    try:
        inferred = infer_timeframe(np.sort(times)) if times.size >= 2 else timeframe
        if inferred is None:
            raise MarketDataUnavailable(f"{path}: one bar is not enough to tell the timeframe")
        if timeframe is not None and inferred is not timeframe:
            raise MarketDataUnavailable(f"{path} holds {inferred.value} bars, not {timeframe.value}")
        return CandleSeries.from_arrays(
            symbol, inferred, times, columns["open"], columns["high"], columns["low"], columns["close"],
            columns["volume"],
        )  # fmt: skip
    except InvalidCandles as e:
        raise MarketDataUnavailable(f"{path}, line {line(e.row)}: {e.rule}") from e
    except DomainError as e:
        raise MarketDataUnavailable(f"{path}: {e}") from e


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

    def __init__(self, path: Path, symbol: Symbol | None = None, timeframe: Timeframe | None = None) -> None:
        self._path = Path(path)
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
            self._series = read_candle_file(self._path, self._symbol, self._timeframe)
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
