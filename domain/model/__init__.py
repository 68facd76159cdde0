"""Value objects and entities of trading: symbols, candles, orders, fills, positions, trades, portfolios."""
