"""Ports: the small protocols the application needs from the world. Adapters implement them."""

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
from application.ports.simulation import Broker, SimulatedVenue
from application.ports.venue import Balance, ExecutionVenue

__all__ = [
    "ApplicationError",
    "Balance",
    "Broker",
    "BrokerError",
    "Clock",
    "ConfigurationError",
    "DatasetInfo",
    "ExecutionVenue",
    "InsufficientBalance",
    "MarketData",
    "MarketDataUnavailable",
    "OrderRejected",
    "Predictor",
    "RateLimited",
    "SchemaMismatch",
    "Sentiment",
    "SessionRepository",
    "SimulatedVenue",
    "TradeRepository",
    "UnitOfWork",
    "UnknownSymbolError",
]
