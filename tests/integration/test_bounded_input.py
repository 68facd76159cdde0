"""Candle files are read in bounded blocks (ADR 0014): caps on decompressed bytes and rows, gzip bombs refused
early in little memory, results independent of the block size, line numbers that count ``\\n`` only."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adapters.files.csv_market_data import CsvMarketData, read_candle_file
from adapters.files.text import read_blocks, read_text
from application.ports.errors import MarketDataUnavailable
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from tests.integration.test_csv_market_data import BAD_FILES, assert_one_line_naming, atb_text, write

ROOT = Path(__file__).resolve().parents[2]
BTC = Symbol("BTC", "USDT")
HEADER = "open_time_ms,open,high,low,close,volume"
MINUTE_MS = 60_000
T0 = 1_704_067_200_000


def walk_rows(n: int, seed: int = 3) -> list[str]:
    """``n`` valid 1-minute rows of a seeded walk, as text (prices with 2 decimals, volumes with 3)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) + 0.05 + rng.random(n)
    low = np.minimum(open_, close) - 0.05 - rng.random(n) * 0.5
    vol = rng.random(n) * 10
    return [
        f"{T0 + i * MINUTE_MS},{open_[i]:.2f},{high[i]:.2f},{low[i]:.2f},{close[i]:.2f},{vol[i]:.3f}" for i in range(n)
    ]


def oracle(text: str) -> list[np.ndarray]:
    """The six columns as the csv module and float() read them, blank lines left out (no atb code)."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and "".join(r).strip()]
    body = rows[1:] if not rows[0][0].strip().lstrip("-").replace(".", "").isdigit() else rows
    times = np.array([int(float(r[0])) for r in body], dtype=np.int64)
    return [times, *(np.array([float(r[k]) for r in body]) for k in range(1, 6))]


def columns(path: Path, **kwargs: int) -> list[np.ndarray]:
    s = read_candle_file(path, BTC, **kwargs)  # type: ignore[arg-type]
    return [s.open_time, s.open, s.high, s.low, s.close, s.volume]


# ---------------------------------------------------------------------------------------------------------------
# Block boundaries change nothing


SHAPES = {
    "plain": lambda rows: HEADER + "\n" + "\n".join(rows) + "\n",
    "no_final_newline": lambda rows: HEADER + "\n" + "\n".join(rows),
    "crlf": lambda rows: HEADER + "\r\n" + "\r\n".join(rows) + "\r\n",
    "bom_and_blank_lines": lambda rows: "\ufeff" + HEADER + "\n\n" + "\n\n \n".join(rows) + "\n\n",
    "leading_blank_lines": lambda rows: "\n \n" + HEADER + "\n" + "\n".join(rows) + "\n",
    "headerless": lambda rows: "\n".join(rows) + "\n",
    "quoted": lambda rows: (
        ",".join(f'"{h}"' for h in HEADER.split(","))
        + "\n"
        + "".join(",".join(f'"{f}"' for f in r.split(",")) + "\n" for r in rows)
    ),
}


@pytest.mark.parametrize("gz", [False, True], ids=["csv", "gzip"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_block_size_does_not_change_the_series(tmp_path: Path, shape: str, gz: bool) -> None:
    text = SHAPES[shape](walk_rows(120))
    path = write(tmp_path / ("x.csv.gz" if gz else "x.csv"), text, gz=gz)
    expected = oracle(text.lstrip("\ufeff"))
    assert expected[0].size == 120
    # 1 byte: every line straddles blocks; 37 and 100: rows cut at every position; the default: one block.
    for block_bytes in (1, 37, 100, 8 << 20):
        got = columns(path, block_bytes=block_bytes)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("block_bytes", [1, 50, 130])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_errors_name_the_same_line_whatever_the_block_size(tmp_path: Path, case: str, block_bytes: int) -> None:
    make, line, fragments = BAD_FILES[case]
    path = write(tmp_path / f"{case}.csv", make())
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC, block_bytes=block_bytes)
    msg = assert_one_line_naming(info.value, path, line)
    for fragment in fragments:
        assert fragment in msg


def test_an_order_error_across_a_block_boundary_is_found(tmp_path: Path) -> None:
    rows = walk_rows(200)
    rows[120], rows[121] = rows[121], rows[120]  # line 123 (header is line 1) goes back in time
    text = HEADER + "\n" + "\n".join(rows) + "\n"
    cut = text.index(rows[121])  # a block ends exactly before the row that goes back
    path = write(tmp_path / "x.csv", text)
    for block_bytes in (cut, cut + 1, 1000):
        with pytest.raises(MarketDataUnavailable) as info:
            read_candle_file(path, BTC, block_bytes=block_bytes)
        assert "goes backwards" in assert_one_line_naming(info.value, path, 123)


# ---------------------------------------------------------------------------------------------------------------
# Caps


def test_the_row_cap_refuses_one_row_more(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", HEADER + "\n" + "\n".join(walk_rows(50)) + "\n")
    assert len(read_candle_file(path, BTC, max_rows=50)) == 50
    for block_bytes in (64, 8 << 20):
        with pytest.raises(MarketDataUnavailable) as info:
            read_candle_file(path, BTC, max_rows=49, block_bytes=block_bytes)
        msg = assert_one_line_naming(info.value, path)
        assert "49" in msg and "ATB_MAX_DATA_ROWS" in msg


def test_the_byte_cap_on_a_plain_file_is_its_size(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", HEADER + "\n" + "\n".join(walk_rows(50)) + "\n")
    size = path.stat().st_size
    assert len(read_candle_file(path, BTC, max_bytes=size)) == 50
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC, max_bytes=size - 1)
    msg = assert_one_line_naming(info.value, path)
    assert f"{size - 1:,}" in msg and "ATB_MAX_DATA_BYTES" in msg


def test_the_byte_cap_counts_decompressed_bytes(tmp_path: Path) -> None:
    text = HEADER + "\n" + "\n".join(walk_rows(2000)) + "\n"
    path = write(tmp_path / "x.csv.gz", text, gz=True)
    size = len(text.encode())
    assert path.stat().st_size < size // 2
    assert len(read_candle_file(path, BTC, max_bytes=size, block_bytes=1000)) == 2000
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC, max_bytes=size - 1, block_bytes=1000)
    msg = assert_one_line_naming(info.value, path)
    assert "decompressed" in msg and "ATB_MAX_DATA_BYTES" in msg


def test_csv_market_data_passes_its_caps_to_the_reader(tmp_path: Path) -> None:
    path = write(tmp_path / "BTCUSDT-1m.csv", HEADER + "\n" + "\n".join(walk_rows(30)) + "\n")
    with pytest.raises(MarketDataUnavailable, match="ATB_MAX_DATA_ROWS"):
        CsvMarketData(path, max_rows=29).datasets()
    with pytest.raises(MarketDataUnavailable, match="ATB_MAX_DATA_BYTES"):
        CsvMarketData(path, max_bytes=100).datasets()
    assert CsvMarketData(path, max_rows=30).datasets()[0].bars == 30


def test_read_text_is_capped_too(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv.gz", "a,b\n" * 1000, gz=True)
    assert read_text(path) == "a,b\n" * 1000
    with pytest.raises(MarketDataUnavailable, match="decompressed"):
        read_text(path, max_bytes=3999)


def test_blocks_end_at_line_ends_and_count_lines(tmp_path: Path) -> None:
    text = "".join(f"{i},{'x' * (i % 7)}\n" for i in range(500))
    path = write(tmp_path / "x.txt", text)
    pieces = list(read_blocks(path, max_bytes=1 << 20, block_bytes=33))
    assert b"".join(b for _, b in pieces).decode() == text
    line = 1
    for first, block in pieces:
        assert first == line and block.endswith(b"\n")
        line += block.count(b"\n")


# ---------------------------------------------------------------------------------------------------------------
# Bombs: refused with one line, in little memory (measured in a child process)

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from adapters.files.csv_market_data import read_candle_file
    from application.ports.errors import MarketDataUnavailable
    from domain.model.symbols import Symbol
    def peak_kb():  # VmHWM starts again at exec; ru_maxrss keeps the parent's (pytest's) size from the fork
        try:
            return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        read_candle_file(Path(sys.argv[2]), Symbol("BTC", "USDT"), max_bytes=int(sys.argv[3]))
        error = None
    except MarketDataUnavailable as e:
        error = str(e)
    print(json.dumps({"error": error, "maxrss_mb": peak_kb() / 1024}))
    """
)


def gzip_stream(path: Path, piece: bytes, total: int, prefix: bytes = b"") -> Path:
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(prefix)
        for _ in range(total // len(piece)):
            f.write(piece)
    return path


def read_in_child(path: Path, max_bytes: int) -> tuple[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(path), str(max_bytes)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert report["error"] is not None, "the bomb was read"
    return report["error"], report["maxrss_mb"]


def test_a_bomb_of_zeros_is_refused_at_its_first_block_in_little_memory(tmp_path: Path) -> None:
    bomb = gzip_stream(tmp_path / "zeros.csv.gz", bytes(1 << 20), 64 << 20)
    assert bomb.stat().st_size < 1 << 20  # 64 MiB of zeros in well under 1 MiB
    error, rss_mb = read_in_child(bomb, 2 << 30)  # the default cap: the bomb is refused before reaching it
    assert "\n" not in error and str(bomb) in error and "line 1" in error
    assert rss_mb < 400


def test_a_bomb_of_blank_lines_stops_at_the_byte_cap_in_little_memory(tmp_path: Path) -> None:
    bomb = gzip_stream(tmp_path / "blank.csv.gz", b"\n" * (1 << 20), 64 << 20, prefix=HEADER.encode() + b"\n")
    error, rss_mb = read_in_child(bomb, 16 << 20)
    assert "\n" not in error and str(bomb) in error and "ATB_MAX_DATA_BYTES" in error
    assert rss_mb < 400


def test_a_bomb_of_one_repeated_row_stops_at_its_first_block(tmp_path: Path) -> None:
    row = walk_rows(1)[0].encode() + b"\n"
    bomb = gzip_stream(tmp_path / "same.csv.gz", row * 10_000, 64 << 20, prefix=HEADER.encode() + b"\n")
    error, rss_mb = read_in_child(bomb, 2 << 30)
    assert "duplicate" in error and "line 3" in error
    assert rss_mb < 400


# ---------------------------------------------------------------------------------------------------------------
# Whitespace that is not a line end: NBSP, form feed, U+2028 (lines count "\n" only, as `sed -n` does)


def numbered(text: str, line: int) -> str:
    """Line ``line`` of ``text`` as ``sed -n`` numbers them (split on \\n only)."""
    return text.split("\n")[line - 1]


def test_a_trailing_line_of_a_non_breaking_space_is_a_blank_line(tmp_path: Path) -> None:
    text = atb_text() + "\u00a0\n"
    got = columns(write(tmp_path / "nbsp.csv", text))
    for g, e in zip(got, oracle(atb_text()), strict=True):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("space", ["\u00a0", "\x0c", "\u2028", "\x0b", "\u3000"])
def test_whitespace_only_lines_are_skipped_and_counted(tmp_path: Path, space: str) -> None:
    lines = atb_text().splitlines()
    lines.insert(3, space)  # line 4 holds only the whitespace
    lines[6] = lines[6].rsplit(",", 1)[0] + ",lots"  # line 7 is bad
    text = "\n".join(lines) + "\n"
    assert numbered(text, 7).endswith(",lots")
    path = write(tmp_path / "ws.csv", text)
    for block_bytes in (16, 8 << 20):
        with pytest.raises(MarketDataUnavailable) as info:
            read_candle_file(path, BTC, block_bytes=block_bytes)
        assert "volume" in assert_one_line_naming(info.value, path, 7)


@pytest.mark.parametrize("inner", ["\u2028", "\x0c", "\u0085", "\x1c"])
def test_a_line_separator_inside_a_row_is_not_a_line_end(tmp_path: Path, inner: str) -> None:
    lines = atb_text().splitlines()
    lines[2] = lines[2] + inner + "5"  # line 3: "...,volume<sep>5": one row with a bad volume
    lines[5] = lines[5].rsplit(",", 1)[0] + ",x"  # line 6 is bad too (the first error wins)
    text = "\n".join(lines) + "\n"
    path = write(tmp_path / "sep.csv", text)
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "volume is not a number" in assert_one_line_naming(info.value, path, 3)


def test_a_form_feed_before_a_bad_row_does_not_shift_its_line(tmp_path: Path) -> None:
    lines = atb_text().splitlines()
    lines[1] = lines[1] + "\x0c"  # trailing form feed: whitespace around a number, accepted
    lines[4], lines[5] = lines[5], lines[4]  # line 6 goes back in time
    path = write(tmp_path / "ff.csv", "\n".join(lines) + "\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "goes backwards" in assert_one_line_naming(info.value, path, 6)


def test_a_lone_carriage_return_is_not_a_line_end(tmp_path: Path) -> None:
    lines = atb_text().splitlines()
    text = "\n".join(lines[:4]) + "\r" + "\n".join(lines[4:]) + "\n"  # lines 4 and 5 joined by a lone CR
    path = write(tmp_path / "cr.csv", text)
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "fields" in assert_one_line_naming(info.value, path, 4)


def test_a_short_row_names_its_field_count(tmp_path: Path) -> None:
    lines = atb_text().splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0]
    path = write(tmp_path / "short.csv", "\n".join(lines) + "\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "5 fields, expected 6" in assert_one_line_naming(info.value, path, 5)


def test_binance_files_keep_their_unused_columns_checked_for_count(tmp_path: Path) -> None:
    rows = [f"{T0 // 1000 + i * 60},1,2,0.5,1.5,10,{T0 // 1000 + i * 60 + 59},15,3,5,7,0" for i in range(10)]
    rows[6] += ",9"  # line 7: 13 fields
    path = write(tmp_path / "b.csv", "\n".join(rows) + "\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "13 fields, expected 12" in assert_one_line_naming(info.value, path, 7)
    rows[6] = rows[6].rsplit(",", 2)[0]  # line 7: 11 fields
    write(path, "\n".join(rows) + "\n")
    with pytest.raises(MarketDataUnavailable) as info:
        read_candle_file(path, BTC)
    assert "11 fields, expected 12" in assert_one_line_naming(info.value, path, 7)


def test_an_explicit_timeframe_still_reads_in_blocks(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", HEADER + "\n" + "\n".join(walk_rows(100)) + "\n")
    assert read_candle_file(path, BTC, Timeframe.M1, block_bytes=64).timeframe is Timeframe.M1


def test_fear_and_greed_lines_count_newlines_only_and_a_lone_cr_is_one_line(tmp_path: Path) -> None:
    from adapters.files.fear_greed import SentimentUnavailable, read_fear_greed

    path = write(tmp_path / "fg.csv", "date,fng_value\n2020-01-01,5\n2020-01-02,6\u2028\n2020-01-03,x\n")
    with pytest.raises(SentimentUnavailable) as info:
        read_fear_greed(path)
    assert "fng_value" in assert_one_line_naming(info.value, path, 4)  # U+2028 ends no line
    write(path, "date,fng_value\n2020-01-01,5\n2020-01-02,6\r7\n")
    with pytest.raises(SentimentUnavailable) as info:
        read_fear_greed(path)
    assert_one_line_naming(info.value, path, 3)


def test_more_rows_than_foreseen_grow_the_columns(tmp_path: Path) -> None:
    from adapters.files.csv_market_data import _Store

    store = _Store(2)  # room for 2 rows; 3 blocks of 3 rows each
    blocks = [[np.arange(k, k + 3, dtype=np.int64), *(np.arange(k, k + 3) + j for j in range(1, 6))] for k in (0, 3, 6)]
    for block in blocks:
        store.append(block)
    got = store.columns()
    for i, column in enumerate(got):
        np.testing.assert_array_equal(column, np.concatenate([b[i] for b in blocks]))
        assert column.shape == (9,)
    # A file whose first rows are long and later ones short foresees too few rows: read all the same.
    rows = walk_rows(3000)
    text = HEADER + "\n" + rows[0] + " " * 60_000 + "\n" + "\n".join(rows[1:]) + "\n"
    path = write(tmp_path / "x.csv", text)
    assert len(read_candle_file(path, BTC, block_bytes=61_000)) == 3000


MEMORY_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from adapters.files.csv_market_data import read_candle_file
    from domain.model.symbols import Symbol
    def peak_kb():  # VmHWM starts again at exec; ru_maxrss keeps the parent's (pytest's) size from the fork
        try:
            return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import os
    warm = Path(sys.argv[2]).with_name("warm-up.csv")  # the parser's lazy imports, before measuring
    warm.write_text("1704067200000,1,2,0.5,1.5,1\\n1704070800000,1,2,0.5,1.5,1\\n")
    read_candle_file(warm, Symbol("BTC", "USDT"))
    now_kb = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    rows = len(read_candle_file(Path(sys.argv[2]), Symbol("BTC", "USDT")))
    print(json.dumps({"rows": rows, "grew_mb": (peak_kb() - now_kb) / 1024}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc")
@pytest.mark.parametrize("gz", [False, True], ids=["csv", "gzip"])
def test_memory_grows_with_the_rows_kept_not_with_the_text(tmp_path: Path, gz: bool) -> None:
    rows = 500_000
    text = HEADER + "\n" + "\n".join(walk_rows(rows)) + "\n"
    path = write(tmp_path / ("x.csv.gz" if gz else "x.csv"), text, gz=gz)
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(ROOT), str(path)], capture_output=True, text=True, timeout=120,
        check=True,
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert report["rows"] == rows
    # Peak over the resident size before the read: 48 bytes a row kept; the budget is 150 a row, plus 30 MB
    # for a block's working set in the parser (the previous whole-file reader took about 600 bytes a row).
    assert report["grew_mb"] < (rows * 150) / 2**20 + 30, report
