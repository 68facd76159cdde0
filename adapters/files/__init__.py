"""Candles from CSV files and pandas DataFrames: the bundled datasets, a user's own files and frames; Fear & Greed."""

from adapters.files.csv_market_data import BundledMarketData, CsvFilesMarketData, CsvMarketData, read_candle_file
from adapters.files.fear_greed import CsvSentiment, SentimentUnavailable
from adapters.files.frame import DataFrameMarketData, InvalidFrame, frame_to_series
from adapters.files.instruments import BundledInstruments

__all__ = [
    "BundledInstruments",
    "BundledMarketData",
    "CsvFilesMarketData",
    "CsvMarketData",
    "CsvSentiment",
    "DataFrameMarketData",
    "InvalidFrame",
    "SentimentUnavailable",
    "frame_to_series",
    "read_candle_file",
]
