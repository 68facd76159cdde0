"""Candles from CSV files: the datasets bundled with atb and a user's own files."""

from adapters.files.csv_market_data import BundledMarketData, CsvMarketData, read_candle_file

__all__ = ["BundledMarketData", "CsvMarketData", "read_candle_file"]
