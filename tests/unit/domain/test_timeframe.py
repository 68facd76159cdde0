"""Timeframes: parsing, lengths and annualisation."""

from __future__ import annotations

import pytest

from domain.model.errors import DomainError
from domain.model.timeframe import Timeframe


@pytest.mark.parametrize(
    ("text", "tf", "seconds"),
    [
        ("1m", Timeframe.M1, 60),
        ("5m", Timeframe.M5, 5 * 60),
        ("15m", Timeframe.M15, 15 * 60),
        ("30m", Timeframe.M30, 30 * 60),
        ("1h", Timeframe.H1, 3600),
        (" 4H ", Timeframe.H4, 4 * 3600),
        ("1d", Timeframe.D1, 24 * 3600),
        ("1w", Timeframe.W1, 7 * 24 * 3600),
    ],
)
def test_parse_and_lengths(text, tf, seconds):
    assert Timeframe.parse(text) is tf
    assert tf.seconds == seconds
    assert tf.milliseconds == seconds * 1000
    assert tf.periods_per_year == pytest.approx(365 * 24 * 3600 / seconds, rel=1e-15)


def test_periods_per_year():
    assert Timeframe.H1.periods_per_year == 8760
    assert Timeframe.D1.periods_per_year == 365
    assert Timeframe.H4.periods_per_year == 2190


@pytest.mark.parametrize("text", ["2h", "1y", "", "hour"])
def test_unknown_timeframe_lists_the_valid_ones(text):
    with pytest.raises(DomainError) as info:
        Timeframe.parse(text)
    message = str(info.value)
    assert repr(text) in message
    for tf in Timeframe:
        assert tf.value in message
