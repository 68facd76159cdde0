"""SQLAlchemy persistence (tables, repositories, unit of work) — tables arrive with [M4].

``metadata`` is what Alembic's ``migrations/env.py`` compares the database against.
"""

from sqlalchemy import MetaData

# Stable constraint names, so migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

__all__ = ["NAMING_CONVENTION", "metadata"]
