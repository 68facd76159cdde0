"""Database fixtures shared by the persistence tests and the repository contract tests.

PostgreSQL: one throwaway database per test session (``atb_test_<random>``), migrated with Alembic,
dropped at the end. When no server answers, the tests skip with the reason, except under CI (``CI=true``),
where they fail: CI must run them. The server is ``ATB_TEST_POSTGRES_URL`` (default: postgres on
127.0.0.1:5432, the machine's own).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.persistence import Database, metadata
from application.ports.repositories import UnitOfWork

ADMIN_URL = os.environ.get("ATB_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def postgres_admin() -> sa.Engine:
    """An engine on the maintenance database, or skip (fail under CI) when the server cannot be reached."""
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as e:
        engine.dispose()
        where = sa.make_url(ADMIN_URL).render_as_string()
        reason = f"PostgreSQL not reachable at {where}: {str(e.orig).strip().splitlines()[0]}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return engine


def create_postgres_database(admin: sa.Engine, suffix: str = "") -> str:
    name = f"atb_test_{uuid.uuid4().hex[:12]}{suffix}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin: sa.Engine, url: str) -> None:
    name = sa.make_url(url).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database for this test session."""
    admin = postgres_admin()
    url = create_postgres_database(admin)
    try:
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url
    finally:
        drop_postgres_database(admin, url)
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "atb.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A migrated, empty database of ``backend`` (``sqlite`` or ``postgresql``) for one test."""
    if backend == "sqlite":
        path = tmp_path / "atb.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Database(f"sqlite:///{path}")
    url = request.getfixturevalue("postgres_url")
    _truncate(url)
    return Database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    db = make_database(request.param, request, tmp_path)
    yield db
    db.dispose()


UowFactory = Callable[[], UnitOfWork]


def units_of_work(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UowFactory]:
    """For a fixture parametrised over ``memory``, ``sqlite`` and ``postgresql``: a unit-of-work factory on
    the in-memory fake or on a migrated, empty database (disposed after the test)."""
    if request.param == "memory":
        from tests.fakes.repositories import InMemoryStore, InMemoryUnitOfWork

        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    db = make_database(request.param, request, tmp_path)
    yield db.unit_of_work
    db.dispose()


def empty_database(backend: str, tmp_path: Path, name: str) -> Iterator[Database]:
    """A database without tables on ``backend`` (``sqlite``: a file in ``tmp_path``; ``postgresql``: a throwaway
    database, dropped afterwards), for the tests that migrate it themselves. Yield from it in a fixture."""
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / (name + '.db')}")
        yield db
        db.dispose()
        return
    admin = postgres_admin()
    url = create_postgres_database(admin, "_" + name)
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        drop_postgres_database(admin, url)
        admin.dispose()
