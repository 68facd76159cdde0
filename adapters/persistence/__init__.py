"""SQLAlchemy persistence: tables, repositories, the unit of work and migrations.

``metadata`` is what Alembic's ``migrations/env.py`` compares the database against.
"""

from adapters.persistence.database import Database, resolve_url
from adapters.persistence.repositories import (
    SqlAlchemyAccountHistoryRepository,
    SqlAlchemyEventRepository,
    SqlAlchemyFillRepository,
    SqlAlchemyMetricsRepository,
    SqlAlchemyOrderRepository,
    SqlAlchemyPositionRepository,
    SqlAlchemySessionRepository,
    SqlAlchemyTradeRepository,
)
from adapters.persistence.schema import NAMING_CONVENTION, metadata
from adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork

__all__ = [
    "NAMING_CONVENTION",
    "Database",
    "SqlAlchemyAccountHistoryRepository",
    "SqlAlchemyEventRepository",
    "SqlAlchemyFillRepository",
    "SqlAlchemyMetricsRepository",
    "SqlAlchemyOrderRepository",
    "SqlAlchemyPositionRepository",
    "SqlAlchemySessionRepository",
    "SqlAlchemyTradeRepository",
    "SqlAlchemyUnitOfWork",
    "metadata",
    "resolve_url",
]
