"""One contract for every ``Sentiment``: a day's value is known only from the next UTC day, NaN before the first."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from adapters.files import CsvSentiment, SentimentUnavailable
from application.ports.errors import MarketDataUnavailable
from application.ports.sentiment import Sentiment

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def _ms(day: str, hour: int = 0) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000) + hour * HOUR_MS


def _write(path: Path, text: str, gz: bool = False) -> Path:
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


SAMPLE = "date,fng_value,fng_classification\n2018-02-01,30,Fear\n2018-02-02,15,Extreme Fear\n2018-02-04,40,Fear\n"


def _sources() -> dict[str, Callable[[Path], Sentiment]]:
    return {
        "bundled file": lambda _: CsvSentiment(),
        "user csv": lambda tmp: CsvSentiment(_write(tmp / "fng.csv", SAMPLE)),
        "user csv.gz": lambda tmp: CsvSentiment(_write(tmp / "fng.csv.gz", SAMPLE, gz=True)),
    }


@pytest.fixture(params=list(_sources()))
def sentiment(request: pytest.FixtureRequest, tmp_path: Path) -> Sentiment:
    return _sources()[request.param](tmp_path)


def test_a_day_is_known_only_from_the_next_day_on(sentiment: Sentiment) -> None:
    # the bundled file and the sample both start with 2018-02-01 = 30, 2018-02-02 = 15
    times = np.array(
        [_ms("2018-01-31", 23), _ms("2018-02-01"), _ms("2018-02-01", 23), _ms("2018-02-02"), _ms("2018-02-03")],
        dtype=np.int64,
    )
    values = sentiment.values_at(times)
    assert values.dtype == np.float64 and values.shape == times.shape
    assert np.isnan(values[:3]).all()  # nothing is known before the first day has ended
    assert values[3] == 30.0  # 2018-02-02 00:00 sees 2018-02-01's value
    assert values[4] == 15.0


def test_values_are_on_the_0_to_100_scale_and_vectorised(sentiment: Sentiment) -> None:
    times = _ms("2018-03-01") + HOUR_MS * np.arange(5000, dtype=np.int64)
    values = sentiment.values_at(times)
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 100).all()
    assert sentiment.values_at(np.empty(0, dtype=np.int64)).shape == (0,)


def test_a_missing_day_leaves_the_previous_value_in_force(tmp_path: Path) -> None:
    source = CsvSentiment(_write(tmp_path / "fng.csv", SAMPLE))
    # 2018-02-03 is missing: on 2018-02-04 the latest day before is 2018-02-02 (15); on 02-05, 2018-02-04 (40)
    assert source.values_at(np.array([_ms("2018-02-04", 5), _ms("2018-02-05")], dtype=np.int64)).tolist() == [15, 40]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("day,value\n2018-02-01,3\n", "line 1: expected the header"),
        ("date,fng_value,fng_classification\n", "no rows"),
        ("date,fng_value,fng_classification\n2018-02-01,30,Fear\n2018-02-31,30,Fear\n", "line 3: '2018-02-31'"),
        ("date,fng_value,fng_classification\n2018-02-01,high,Greed\n", "line 2: fng_value 'high' is not a number"),
        ("date,fng_value,fng_classification\n2018-02-01,130,Greed\n", "line 2: fng_value 130 is outside 0..100"),
        ("date,fng_value,fng_classification\n2018-02-02,3,x\n\n2018-02-01,4,x\n", "line 4: 2018-02-01 does not follow"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "fng.csv", text)
    with pytest.raises(SentimentUnavailable, match=message) as info:
        CsvSentiment(path)
    assert str(info.value).startswith(str(path)) and isinstance(info.value, MarketDataUnavailable)


def test_a_missing_or_broken_gzip_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SentimentUnavailable, match="cannot be read"):
        CsvSentiment(tmp_path / "none.csv")
    with pytest.raises(SentimentUnavailable, match="not a readable gzip file"):
        CsvSentiment(_write_bytes(tmp_path / "bad.csv.gz", gzip.compress(SAMPLE.encode())[:20]))


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
