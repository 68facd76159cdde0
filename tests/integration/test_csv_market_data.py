"""Reading candle files: the bundled data, atb and Binance formats, and every error naming file and line."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import adapters.files
from adapters.files.csv_market_data import BundledMarketData, CsvMarketData, read_candle_file
from application.ports.errors import MarketDataUnavailable, UnknownSymbolError
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

HOUR_MS = 3_600_000
BUNDLED_DIR = Path(adapters.files.__file__).parent / "bundled"
BTC = Symbol("BTC", "USDT")
ETH = Symbol("ETH", "USDT")
ATB_HEADER = "open_time_ms,open,high,low,close,volume"
BINANCE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
)
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


# ---------------------------------------------------------------------------------------------------------------
# Independent reading of the bundled files (gzip + csv, no atb code)


@lru_cache(maxsize=4)
def bundled_rows(name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Header, open times (int64 ms) and the five float columns of a bundled file."""
    with gzip.open(BUNDLED_DIR / name, "rt", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    times = np.array([int(r[0]) for r in rows], dtype=np.int64)
    values = np.array([[float(x) for x in r[1:6]] for r in rows], dtype=np.float64)
    return header, times, values


def fmt_minute(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------------------------------------------------
# Bundled data


@pytest.fixture(scope="module")
def bundled() -> BundledMarketData:
    return BundledMarketData()


def test_bundled_files_have_the_documented_header() -> None:
    for name in ("BTCUSDT-1h.csv.gz", "ETHUSDT-1h.csv.gz"):
        header, _, _ = bundled_rows(name)
        assert header == ATB_HEADER.split(",")


def test_bundled_datasets_match_the_files(bundled: BundledMarketData) -> None:
    infos = {str(d.symbol): d for d in bundled.datasets()}
    assert set(infos) == {"BTCUSDT", "ETHUSDT"}
    for sym, info in infos.items():
        _, times, _ = bundled_rows(f"{sym}-1h.csv.gz")
        assert info.timeframe is Timeframe.H1
        assert info.bars == len(times)
        assert info.start_ms == times[0]
        # The range is half-open: it ends where the last bar closes.
        assert info.end_ms == times[-1] + HOUR_MS
        assert sym in info.source


def test_bundled_bar_count_is_the_documented_one(bundled: BundledMarketData) -> None:
    # docs: /shared/data/README.md says 33,412 bars for each file.
    for info in bundled.datasets():
        assert info.bars == 33_412


def test_bundled_symbols(bundled: BundledMarketData) -> None:
    assert bundled.symbols() == ["BTCUSDT", "ETHUSDT"]


@pytest.mark.parametrize("sym", ["BTCUSDT", "ETHUSDT"])
def test_bundled_gap_report_matches_the_file(bundled: BundledMarketData, sym: str) -> None:
    _, times, _ = bundled_rows(f"{sym}-1h.csv.gz")
    steps = np.diff(times)
    missing = steps // HOUR_MS - 1
    holes = np.flatnonzero(missing > 0)
    info = next(d for d in bundled.datasets() if str(d.symbol) == sym)
    assert info.gaps.gaps == holes.size == 8  # 8 gaps per the data README
    assert info.gaps.missing_bars == int(missing[holes].sum())
    assert info.gaps.largest_missing_bars == int(missing[holes].max())
    assert info.gaps.largest_gap_start == int(times[holes[np.argmax(missing[holes])]])


def test_bundled_btc_and_eth_have_gaps_at_the_same_hours() -> None:
    _, btc, _ = bundled_rows("BTCUSDT-1h.csv.gz")
    _, eth, _ = bundled_rows("ETHUSDT-1h.csv.gz")
    np.testing.assert_array_equal(btc, eth)


def test_bundled_candles_equal_the_file_values(bundled: BundledMarketData) -> None:
    _, times, values = bundled_rows("BTCUSDT-1h.csv.gz")
    series = bundled.candles(BTC, Timeframe.H1)
    np.testing.assert_array_equal(series.open_time, times)
    for i, col in enumerate((series.open, series.high, series.low, series.close, series.volume)):
        np.testing.assert_array_equal(col, values[:, i])


def test_bundled_range_is_half_open(bundled: BundledMarketData) -> None:
    _, times, _ = bundled_rows("ETHUSDT-1h.csv.gz")
    start, end = int(times[1000]), int(times[1500])
    part = bundled.candles(ETH, Timeframe.H1, start, end)
    expected = times[(times >= start) & (times < end)]
    np.testing.assert_array_equal(part.open_time, expected)
    assert part.open_time[0] == start  # start included
    assert end not in part.open_time  # end excluded
    assert len(part) == 500


def test_bundled_range_starting_inside_a_bar_skips_that_bar(bundled: BundledMarketData) -> None:
    _, times, _ = bundled_rows("BTCUSDT-1h.csv.gz")
    part = bundled.candles(BTC, Timeframe.H1, int(times[10]) + 1, int(times[20]))
    np.testing.assert_array_equal(part.open_time, times[11:20])


def test_bundled_open_ended_ranges(bundled: BundledMarketData) -> None:
    _, times, _ = bundled_rows("BTCUSDT-1h.csv.gz")
    cut = int(times[20_000])
    assert len(bundled.candles(BTC, Timeframe.H1, None, cut)) == 20_000
    assert len(bundled.candles(BTC, Timeframe.H1, cut, None)) == len(times) - 20_000


def test_bundled_unknown_symbol_lists_the_available_ones(bundled: BundledMarketData) -> None:
    with pytest.raises(UnknownSymbolError) as info:
        bundled.candles(Symbol("NOPE", "USDT"), Timeframe.H1)
    msg = str(info.value)
    assert "NOPEUSDT" in msg
    assert "BTCUSDT" in msg
    assert "ETHUSDT" in msg
    assert "\n" not in msg
    assert sorted(info.value.available) == ["BTCUSDT", "ETHUSDT"]


def test_bundled_unknown_timeframe_names_the_bundled_ones(bundled: BundledMarketData) -> None:
    with pytest.raises(MarketDataUnavailable) as info:
        bundled.candles(BTC, Timeframe.H4)
    assert not isinstance(info.value, UnknownSymbolError)
    assert "4h" in str(info.value)
    assert "1h" in str(info.value)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2030, 1, 1, tzinfo=UTC), None),
        (None, datetime(2010, 1, 1, tzinfo=UTC)),
        (datetime(2015, 1, 1, tzinfo=UTC), datetime(2016, 1, 1, tzinfo=UTC)),
    ],
)
def test_bundled_range_outside_the_data_names_the_covered_range(
    bundled: BundledMarketData, start: datetime | None, end: datetime | None
) -> None:
    _, times, _ = bundled_rows("BTCUSDT-1h.csv.gz")
    start_ms = None if start is None else int(start.timestamp() * 1000)
    end_ms = None if end is None else int(end.timestamp() * 1000)
    with pytest.raises(MarketDataUnavailable) as info:
        bundled.candles(BTC, Timeframe.H1, start_ms, end_ms)
    msg = str(info.value)
    assert "\n" not in msg
    assert fmt_minute(int(times[0])) in msg
    # The end may be shown as the last bar's open or as its (exclusive) close.
    assert fmt_minute(int(times[-1])) in msg or fmt_minute(int(times[-1]) + HOUR_MS) in msg


# ---------------------------------------------------------------------------------------------------------------
# Formats written by the tests

# (open_time_ms, open, high, low, close, volume), with decimals that survive text round trips exactly.
ROWS: list[tuple[int, str, str, str, str, str]] = [
    (T0 + i * HOUR_MS, f"{100 + i}.25", f"{103 + i}.5", f"{99 + i}.125", f"{101 + i}.75", f"{10 + 3 * i}.0625")
    for i in range(8)
]


def expected_arrays(rows: list[tuple[int, str, str, str, str, str]] = ROWS) -> list[np.ndarray]:
    times = np.array([r[0] for r in rows], dtype=np.int64)
    cols = [np.array([float(r[k]) for r in rows]) for k in range(1, 6)]
    return [times, *cols]


def atb_text(rows: list[tuple[int, str, str, str, str, str]] = ROWS) -> str:
    return ATB_HEADER + "\n" + "".join(",".join(str(x) for x in r) + "\n" for r in rows)


def binance_line(r: tuple[int, str, str, str, str, str], factor: float, bar_ms: int = HOUR_MS) -> str:
    open_t = int(r[0] * factor)
    close_t = int((r[0] + bar_ms - 1) * factor)
    quote = float(r[5]) * float(r[4])
    return f"{open_t},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]},{close_t},{quote},42,1.5,150.25,0\n"


def binance_text(
    rows: list[tuple[int, str, str, str, str, str]] = ROWS, factor: float = 1, header: bool = False
) -> str:
    return (BINANCE_HEADER + "\n" if header else "") + "".join(binance_line(r, factor) for r in rows)


def write(path: Path, text: str, gz: bool = False) -> Path:
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


FORMATS: dict[str, Callable[[Path], Path]] = {
    "atb": lambda d: write(d / "a.csv", atb_text()),
    "atb_gzip": lambda d: write(d / "a.csv.gz", atb_text(), gz=True),
    "atb_gzip_named_csv": lambda d: write(d / "a2.csv", atb_text(), gz=True),
    "atb_crlf": lambda d: write(d / "crlf.csv", atb_text().replace("\n", "\r\n")),
    "atb_bom": lambda d: write(d / "bom.csv", "\ufeff" + atb_text()),
    "binance_ms": lambda d: write(d / "b.csv", binance_text()),
    "binance_us": lambda d: write(d / "bu.csv", binance_text(factor=1000)),
    "binance_s": lambda d: write(d / "bs.csv", binance_text(factor=0.001)),
    "binance_header": lambda d: write(d / "bh.csv", binance_text(header=True)),
    "binance_header_us_gzip": lambda d: write(d / "bhu.csv.gz", binance_text(factor=1000, header=True), gz=True),
}


def test_microsecond_fixture_really_has_16_digit_times(tmp_path: Path) -> None:
    first = FORMATS["binance_us"](tmp_path).read_text().split(",", 1)[0]
    assert len(first) == 16
    first_s = FORMATS["binance_s"](tmp_path).read_text().split(",", 1)[0]
    assert len(first_s) == 10


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_gives_the_same_series(tmp_path: Path, fmt: str) -> None:
    path = FORMATS[fmt](tmp_path)
    series = read_candle_file(path, BTC)
    assert series.symbol == BTC
    assert series.timeframe is Timeframe.H1
    got = [series.open_time, series.open, series.high, series.low, series.close, series.volume]
    for g, e in zip(got, expected_arrays(), strict=True):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize(
    ("bar_ms", "timeframe"),
    [
        (15 * 60_000, Timeframe.M15),
        (HOUR_MS, Timeframe.H1),
        (4 * HOUR_MS, Timeframe.H4),
        (24 * HOUR_MS, Timeframe.D1),
        (7 * 24 * HOUR_MS, Timeframe.W1),
    ],
)
def test_timeframe_is_inferred_from_the_spacing(tmp_path: Path, bar_ms: int, timeframe: Timeframe) -> None:
    rows = [(T0 + i * bar_ms, *r[1:]) for i, r in enumerate(ROWS)]
    series = read_candle_file(write(tmp_path / "x.csv", atb_text(rows)), BTC)
    assert series.timeframe is timeframe


def test_timeframe_inference_ignores_a_gap(tmp_path: Path) -> None:
    rows = [(T0 + i * 4 * HOUR_MS + (12 * HOUR_MS if i >= 5 else 0), *r[1:]) for i, r in enumerate(ROWS)]
    series = read_candle_file(write(tmp_path / "x.csv", binance_text(rows)), BTC)
    assert series.timeframe is Timeframe.H4
    assert series.gaps().gaps == 1
    assert series.gaps().missing_bars == 3


def test_an_explicit_timeframe_is_used(tmp_path: Path) -> None:
    series = read_candle_file(write(tmp_path / "x.csv", atb_text()), BTC, Timeframe.H1)
    assert series.timeframe is Timeframe.H1


# ---------------------------------------------------------------------------------------------------------------
# Errors: file, 1-based line (header is line 1), rule; exactly one line


def data_lines() -> list[str]:
    return atb_text().splitlines()  # [0] is the header (line 1); data row i is line i + 2


def with_close(line: str, close: str) -> str:
    parts = line.split(",")
    parts[4] = close
    return ",".join(parts)


def mutate(edit: Callable[[list[str]], None]) -> str:
    lines = data_lines()
    edit(lines)
    return "\n".join(lines) + "\n"


def swap(lines: list[str], a: int, b: int) -> None:
    lines[a], lines[b] = lines[b], lines[a]


def set_line(lines: list[str], i: int, text: str) -> None:
    lines[i] = text


def assert_one_line_naming(exc: BaseException, path: Path, line: int | None = None) -> str:
    msg = str(exc)
    assert "\n" not in msg
    assert str(path) in msg
    if line is not None:
        assert f"line {line}:" in msg
    return msg


BAD_FILES: dict[str, tuple[Callable[[], str], int, tuple[str, ...]]] = {
    # name: (text, 1-based line an editor shows, fragments the message must hold)
    "shuffled": (lambda: mutate(lambda ls: swap(ls, 5, 6)), 7, ("timestamp goes backwards",)),
    "duplicate": (lambda: mutate(lambda ls: set_line(ls, 6, ls[5])), 7, ("duplicate",)),
    "nan_close": (lambda: mutate(lambda ls: set_line(ls, 4, with_close(ls[4], "NaN"))), 5, ("close is NaN",)),
    "empty_close": (lambda: mutate(lambda ls: set_line(ls, 3, with_close(ls[3], ""))), 4, ("close",)),
    "text_in_volume": (
        lambda: mutate(lambda ls: set_line(ls, 8, ls[8].rsplit(",", 1)[0] + ",lots")),
        9,
        ("volume", "lots"),
    ),
    "text_in_open": (
        lambda: mutate(lambda ls: set_line(ls, 2, ls[2].split(",")[0] + ",1O0.5," + ls[2].split(",", 2)[2])),
        3,
        ("open", "1O0.5"),
    ),
    "high_below_open": (
        lambda: mutate(lambda ls: set_line(ls, 3, f"{ROWS[2][0]},100.5,100.25,99.5,100.0,1")),
        4,
        ("high",),
    ),
    "low_above_close": (
        lambda: mutate(lambda ls: set_line(ls, 7, f"{ROWS[6][0]},100.5,101.5,100.75,101.0,1")),
        8,
        ("low",),
    ),
    "negative_volume": (
        lambda: mutate(lambda ls: set_line(ls, 2, ls[2].rsplit(",", 1)[0] + ",-1")),
        3,
        ("volume",),
    ),
    "zero_price": (lambda: mutate(lambda ls: set_line(ls, 5, with_close(ls[5], "0"))), 6, ("close",)),
    "short_row": (lambda: mutate(lambda ls: set_line(ls, 4, ls[4].rsplit(",", 1)[0])), 5, ()),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_rows_name_file_line_and_rule(tmp_path: Path, case: str) -> None:
    make, line, fragments = BAD_FILES[case]
    path = write(tmp_path / f"{case}.csv", make())
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    msg = assert_one_line_naming(info.value, path, line)
    for fragment in fragments:
        assert fragment in msg


def test_bad_row_in_a_gzip_file_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv.gz", mutate(lambda ls: swap(ls, 2, 3)), gz=True)
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "timestamp goes backwards" in assert_one_line_naming(info.value, path, 4)


def test_headerless_binance_file_counts_lines_from_the_first_row(tmp_path: Path) -> None:
    lines = binance_text().splitlines()  # row i is line i + 1
    parts = lines[3].split(",")
    parts[4] = "nan"
    lines[3] = ",".join(parts)
    path = write(tmp_path / "b.csv", "\n".join(lines) + "\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "close is NaN" in assert_one_line_naming(info.value, path, 4)


def test_binance_file_with_header_counts_the_header_as_line_1(tmp_path: Path) -> None:
    lines = binance_text(header=True).splitlines()
    lines[4], lines[5] = lines[5], lines[4]
    path = write(tmp_path / "b.csv", "\n".join(lines) + "\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "timestamp goes backwards" in assert_one_line_naming(info.value, path, 6)


def test_a_row_with_too_many_columns_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", mutate(lambda ls: set_line(ls, 4, ls[4] + ",7")))
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert_one_line_naming(info.value, path, 5)


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    lines = data_lines()
    lines.insert(3, "")  # now line 4 is blank
    lines[6] = with_close(lines[6], "NaN")  # line 7 as an editor shows it
    path = write(tmp_path / "blank.csv", "\n".join(lines) + "\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert_one_line_naming(info.value, path, 7)


def test_wrong_number_of_columns_in_a_headerless_file(tmp_path: Path) -> None:
    text = "".join(binance_line(r, 1).rsplit(",", 5)[0] + "\n" for r in ROWS)  # 7 columns
    assert text.splitlines()[0].count(",") == 6
    path = write(tmp_path / "seven.csv", text)
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "7" in assert_one_line_naming(info.value, path, 1)


def test_unrecognised_header(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "date,price\n2024-01-01,5\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert_one_line_naming(info.value, path, 1)


@pytest.mark.parametrize("text", ["", "\n", ATB_HEADER + "\n"], ids=["empty", "blank", "header_only"])
def test_empty_files(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "empty.csv", text)
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert_one_line_naming(info.value, path)


def test_a_single_bar_cannot_give_a_timeframe(tmp_path: Path) -> None:
    path = write(tmp_path / "one.csv", atb_text(ROWS[:1]))
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert_one_line_naming(info.value, path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert_one_line_naming(info.value, path)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(bytes(range(256)) * 4, id="binary"),  # not gzip, not text
        pytest.param(
            b"\x1f\x8b\x08\x00" + b"\x00garbage" * 20,  # gzip magic, corrupt deflate stream
            id="bad_gzip_stream",
        ),
        pytest.param(gzip.compress(atb_text().encode())[:40], id="truncated_gzip"),
    ],
)
def test_garbage_named_gz(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "garbage.csv.gz"
    path.write_bytes(payload)
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert_one_line_naming(info.value, path)


# ---------------------------------------------------------------------------------------------------------------
# CsvMarketData


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("BTCUSDT-1h-2024.csv", BTC),
        ("ETHUSDT-1h.csv.gz", ETH),
        ("ethusdt_1h.csv", ETH),
        ("SOLUSDT 2024.csv", Symbol("SOL", "USDT")),
        ("ETHBTC-1h.csv", Symbol("ETH", "BTC")),
    ],
)
def test_csv_market_data_guesses_the_symbol_from_the_file_name(tmp_path: Path, name: str, symbol: Symbol) -> None:
    path = write(tmp_path / name, atb_text(), gz=name.endswith(".gz"))
    source = CsvMarketData(path)
    (info,) = source.datasets()
    assert info.symbol == symbol
    assert len(source.candles(symbol, Timeframe.H1)) == len(ROWS)


@pytest.mark.parametrize("name", ["candles.csv", "export-2024.csv", "my_data.csv.gz"])
def test_csv_market_data_refuses_a_name_it_cannot_parse(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, atb_text())
    with pytest.raises(MarketDataUnavailable) as info:
        CsvMarketData(path)
    msg = str(info.value)
    assert "--symbol" in msg
    assert name in msg
    assert "\n" not in msg


def test_csv_market_data_with_explicit_symbol_ignores_the_name(tmp_path: Path) -> None:
    path = write(tmp_path / "candles.csv", atb_text())
    source = CsvMarketData(path, ETH)
    assert source.datasets()[0].symbol == ETH


def test_csv_market_data_datasets_describe_the_file(tmp_path: Path) -> None:
    rows = [r for i, r in enumerate(ROWS) if i not in (3, 4)]  # one hole of two bars
    path = write(tmp_path / "BTCUSDT-1h.csv", atb_text(rows))
    (info,) = CsvMarketData(path).datasets()
    assert info.bars == len(rows)
    assert info.timeframe is Timeframe.H1
    assert info.start_ms == ROWS[0][0]
    assert info.end_ms == ROWS[-1][0] + HOUR_MS
    assert info.gaps.gaps == 1
    assert info.gaps.missing_bars == 2
    assert str(path) in info.source


def test_csv_market_data_range_is_half_open(tmp_path: Path) -> None:
    source = CsvMarketData(write(tmp_path / "BTCUSDT-1h.csv", atb_text()))
    part = source.candles(BTC, Timeframe.H1, ROWS[2][0], ROWS[5][0])
    np.testing.assert_array_equal(part.open_time, [ROWS[2][0], ROWS[3][0], ROWS[4][0]])


def test_csv_market_data_other_symbol_is_unknown(tmp_path: Path) -> None:
    source = CsvMarketData(write(tmp_path / "BTCUSDT-1h.csv", atb_text()))
    with pytest.raises(UnknownSymbolError) as info:
        source.candles(ETH, Timeframe.H1)
    assert info.value.available == ["BTCUSDT"]
    assert "ETHUSDT" in str(info.value)


def test_csv_market_data_other_timeframe_is_refused(tmp_path: Path) -> None:
    source = CsvMarketData(write(tmp_path / "BTCUSDT-1h.csv", atb_text()))
    with pytest.raises(MarketDataUnavailable) as info:
        source.candles(BTC, Timeframe.H4)
    assert "1h" in str(info.value)
    assert "4h" in str(info.value)


def test_csv_market_data_range_outside_names_file_and_range(tmp_path: Path) -> None:
    path = write(tmp_path / "BTCUSDT-1h.csv", atb_text())
    source = CsvMarketData(path)
    with pytest.raises(MarketDataUnavailable) as info:
        source.candles(BTC, Timeframe.H1, ROWS[-1][0] + 10 * HOUR_MS, None)
    msg = str(info.value)
    assert str(path) in msg
    assert fmt_minute(ROWS[0][0]) in msg
    assert "\n" not in msg


def test_csv_market_data_propagates_file_errors_with_line(tmp_path: Path) -> None:
    path = write(tmp_path / "BTCUSDT-1h.csv", mutate(lambda ls: swap(ls, 3, 4)))
    source = CsvMarketData(path)
    with pytest.raises(MarketDataUnavailable) as info:
        source.candles(BTC, Timeframe.H1)
    assert "timestamp goes backwards" in assert_one_line_naming(info.value, path, 5)


def test_csv_market_data_refuses_a_timeframe_the_file_does_not_hold(tmp_path: Path) -> None:
    path = write(tmp_path / "BTCUSDT-1h.csv", atb_text())
    source = CsvMarketData(path, BTC, Timeframe.H4)
    with pytest.raises(MarketDataUnavailable):
        source.candles(BTC, Timeframe.H4)
