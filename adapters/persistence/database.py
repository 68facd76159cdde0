"""The database: URL resolution, the engine, migrations (Alembic) and units of work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine

from adapters.persistence.errors import safe_url, translate
from adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from application.ports.repositories import PersistenceError

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
DEFAULT_DATA_DIR = Path("~/.local/share/atb")
SUPPORTED = ("sqlite", "postgresql")


def resolve_url(database_url: str | None, data_dir: str | Path | None = None) -> str:
    """``database_url`` when given (``DATABASE_URL``), else a SQLite file ``atb.db`` in ``data_dir``."""
    if database_url:
        return database_url
    directory = Path(data_dir or DEFAULT_DATA_DIR).expanduser()
    return f"sqlite:///{directory / 'atb.db'}"


def _parse(url: str) -> URL:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        scheme = url.split(":", 1)[0] if ":" in url else url[:20]
        raise PersistenceError(
            f"invalid database URL (scheme {scheme!r}); use sqlite:///path/atb.db or "
            "postgresql+psycopg2://user:password@host:5432/dbname"
        ) from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise PersistenceError(
            f"unsupported database {parsed.get_backend_name()!r} in {safe_url(parsed)}; use sqlite or postgresql"
        )
    return parsed


class Database:
    """One database. ``unit_of_work()`` gives a fresh unit of work; ``upgrade``/``downgrade``/``current``
    run and report Alembic migrations (the application never creates tables any other way)."""

    def __init__(self, url: str) -> None:
        self.url = _parse(url)
        kwargs: dict[str, Any] = {}
        if self.url.get_backend_name() == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = {"connect_timeout": 5}
        try:
            self.engine: Engine = sa.create_engine(self.url, **kwargs)
        except (sa.exc.SQLAlchemyError, ImportError) as e:
            raise PersistenceError(f"cannot use the database URL {safe_url(self.url)}: {e}") from e
        if self.url.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_settings(cls, database_url: str | None, data_dir: str | Path | None = None) -> Database:
        return cls(resolve_url(database_url, data_dir))

    @property
    def display_url(self) -> str:
        return safe_url(self.url)

    def unit_of_work(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine)

    def check(self) -> None:
        """Connect once; raises ``PersistenceError`` with one line when the server cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self.url) from e

    # -- migrations ---------------------------------------------------------------------------------
    def _alembic(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        cfg.attributes["configure_logger"] = False
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        self.check()
        try:
            command.upgrade(self._alembic(), revision)
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self.url) from e

    def downgrade(self, revision: str = "-1") -> None:
        self.check()
        try:
            command.downgrade(self._alembic(), revision)
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self.url) from e

    def current(self) -> str | None:
        """The revision the database is at (``None``: no atb tables yet)."""
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self.url) from e

    def head(self) -> str | None:
        """The newest revision the code knows."""
        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    def revisions(self) -> list[str]:
        """Every revision, oldest first."""
        script = ScriptDirectory.from_config(self._alembic())
        return [r.revision for r in reversed(list(script.walk_revisions()))]

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
