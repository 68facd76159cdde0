"""Candles from CSV files: the datasets bundled with atb and a user's own files; the Fear & Greed index."""

from adapters.files.csv_market_data import BundledMarketData, CsvFilesMarketData, CsvMarketData, read_candle_file
from adapters.files.fear_greed import CsvSentiment, SentimentUnavailable
from adapters.files.instruments import BundledInstruments

__all__ = [
    "BundledInstruments",
    "BundledMarketData",
    "CsvFilesMarketData",
    "CsvMarketData",
    "CsvSentiment",
    "SentimentUnavailable",
    "read_candle_file",
]
