"""One contract for every ``MarketData``: the fake, the bundled files and a user's CSV behave alike."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters.files import BundledMarketData, CsvFilesMarketData, CsvMarketData, DataFrameMarketData
from application.ports.errors import MarketDataUnavailable, UnknownSymbolError
from application.ports.market_data import MarketData
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData

BTC = Symbol("BTC", "USDT")


def _write_csv(series: CandleSeries, path: Path) -> Path:
    lines = ["open_time_ms,open,high,low,close,volume"]
    for i in range(len(series)):
        c = series.candle(i)
        lines.append(f"{c.open_time},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}")
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    return path


def _frame(series: CandleSeries) -> pd.DataFrame:
    columns = ("open", "high", "low", "close", "volume")
    index = pd.to_datetime(series.open_time, unit="ms", utc=True)
    return pd.DataFrame({c: getattr(series, c) for c in columns}, index=index)


def _sources() -> dict[str, Callable[[Path], MarketData]]:
    walk = random_walk(2000, seed=2)
    return {
        "in-memory fake": lambda _: InMemoryMarketData(walk),
        "csv file": lambda tmp: CsvMarketData(_write_csv(walk, tmp / "BTCUSDT-1h.csv.gz")),
        "bundled": lambda _: BundledMarketData(),
        "dataframe": lambda _: DataFrameMarketData({BTC: _frame(walk)}),
        "csv files": lambda tmp: CsvFilesMarketData(
            [
                CsvMarketData(_write_csv(walk, tmp / "BTCUSDT-1h.csv.gz")),
                CsvMarketData(_write_csv(random_walk(300, seed=3), tmp / "ETHUSDT-1h.csv.gz"), Symbol("ETH", "USDT")),
            ]
        ),
    }


@pytest.fixture(params=list(_sources()))
def source(request: pytest.FixtureRequest, tmp_path: Path) -> MarketData:
    return _sources()[request.param](tmp_path)


def test_ranges_are_half_open(source: MarketData) -> None:
    full = source.candles(BTC, Timeframe.H1)
    start, end = int(full.open_time[100]), int(full.open_time[200])
    part = source.candles(BTC, Timeframe.H1, start, end)
    assert part.open_time[0] == start and part.open_time[-1] < end
    np.testing.assert_array_equal(part.close, full.close[100:200])


def test_reading_is_idempotent(source: MarketData) -> None:
    a = source.candles(BTC, Timeframe.H1)
    b = source.candles(BTC, Timeframe.H1)
    np.testing.assert_array_equal(a.open_time, b.open_time)
    np.testing.assert_array_equal(a.close, b.close)


def test_datasets_describe_what_candles_returns(source: MarketData) -> None:
    (info,) = [d for d in source.datasets() if d.symbol == BTC]
    full = source.candles(BTC, Timeframe.H1)
    assert (info.bars, info.start_ms, info.end_ms) == (len(full), full.start_ms, full.end_ms)


def test_an_unknown_symbol_names_what_is_available(source: MarketData) -> None:
    with pytest.raises(UnknownSymbolError) as err:
        source.candles(Symbol("NOPE", "USDT"), Timeframe.H1)
    assert "BTCUSDT" in str(err.value)


def test_an_empty_range_is_unavailable(source: MarketData) -> None:
    with pytest.raises(MarketDataUnavailable):
        source.candles(BTC, Timeframe.H1, 0, 1000)
