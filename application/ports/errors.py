"""Errors that cross the ports. Adapters translate vendor exceptions into these with ``raise ... from e``."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base class of errors raised by use cases and ports; the message is one readable line."""


class MarketDataUnavailable(ApplicationError):
    """Candles cannot be had: missing file, malformed data, range outside the data, venue down."""


class UnknownSymbolError(MarketDataUnavailable):
    """The symbol is not offered by this source. ``available`` lists what is."""

    def __init__(self, symbol: str, available: list[str]) -> None:
        super().__init__(f"unknown symbol {symbol}; available: {', '.join(available) or 'none'}")
        self.symbol = symbol
        self.available = available


class BrokerError(ApplicationError):
    """The broker failed in a way the caller may retry or report."""


class OrderRejected(BrokerError):
    """The venue refused an order (filter failure, invalid quantity, ...). Not retried as is."""


class InsufficientBalance(OrderRejected):
    """Not enough free balance for the order."""


class RateLimited(BrokerError):
    """The venue asked us to slow down; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SchemaMismatch(ApplicationError):
    """A model's feature schema differs from the features supplied to it."""


class ConfigurationError(ApplicationError):
    """A use case was configured with values that cannot work together."""
