"""Strategies: pure functions from candles (and, later, predictions and sentiment) to per-bar signals."""
