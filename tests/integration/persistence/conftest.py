"""Fixtures: a migrated SQLite file per test and a throwaway PostgreSQL database per session."""

from tests.integration.persistence.fixtures import database, postgres_url, sqlite_template

__all__ = ["database", "postgres_url", "sqlite_template"]
