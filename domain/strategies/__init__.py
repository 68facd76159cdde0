"""Strategies: pure functions from candles (and, later, predictions and sentiment) to per-bar signals."""

# The strategy `atb backtest` runs without --strategy (docs/adr/0006). It lives here, not in the registry, so
# that the CLI can show it in its help without importing every strategy (and numpy).
DEFAULT_STRATEGY = "ema_trend"  # needs no model, so it runs on every symbol
