"""Ports: the small protocols the application needs from the world. Adapters implement them."""

from application.ports.broker import Broker
from application.ports.clock import Clock
from application.ports.errors import (
    ApplicationError,
    BrokerError,
    ConfigurationError,
    InsufficientBalance,
    MarketDataUnavailable,
    OrderRejected,
    RateLimited,
    SchemaMismatch,
    UnknownSymbolError,
)
from application.ports.market_data import DatasetInfo, MarketData
from application.ports.predictor import Predictor
from application.ports.repositories import SessionRepository, TradeRepository, UnitOfWork
from application.ports.sentiment import Sentiment

__all__ = [
    "ApplicationError",
    "Broker",
    "BrokerError",
    "Clock",
    "ConfigurationError",
    "DatasetInfo",
    "InsufficientBalance",
    "MarketData",
    "MarketDataUnavailable",
    "OrderRejected",
    "Predictor",
    "RateLimited",
    "SchemaMismatch",
    "Sentiment",
    "SessionRepository",
    "TradeRepository",
    "UnitOfWork",
    "UnknownSymbolError",
]
