"""The database: URL resolution, the engine, migrations (Alembic) and units of work."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import URL, Engine

from adapters.persistence.errors import safe_url, scrub, translate
from adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from application.ports.repositories import PersistenceError
from application.redaction import redact_url

MIGRATIONS_PACKAGE = "migrations"  # the repository's top-level migrations/, installed as a package (ADR 0007)
DEFAULT_DATA_DIR = Path("~/.local/share/atb")
SUPPORTED = ("sqlite", "postgresql")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def resolve_url(database_url: str | None, data_dir: str | Path | None = None) -> str:
    """``database_url`` when given (``DATABASE_URL``), else a SQLite file ``atb.db`` in ``data_dir``."""
    if database_url:
        return database_url
    directory = Path(data_dir or DEFAULT_DATA_DIR).expanduser()
    return f"sqlite:///{directory / 'atb.db'}"


def migrations_directory() -> Path:
    """Where Alembic's scripts are: the installed ``migrations`` package, found as a package resource (not by
    the repository's path), so an installed atb migrates without alembic.ini or a checkout."""
    try:
        location = resources.files(MIGRATIONS_PACKAGE)
    except ModuleNotFoundError:
        raise PersistenceError(
            "atb's migrations are not installed (no package 'migrations'): reinstall atb (pip install .)"
        ) from None
    path = Path(str(location))
    if not (path / "env.py").is_file():
        raise PersistenceError(f"atb's migrations are incomplete: no env.py in {path}; reinstall atb")
    return path


@dataclass(frozen=True)
class SchemaStatus:
    """The database's revision against the newest one this atb knows (``head``)."""

    current: str | None
    head: str | None
    known: bool  # whether ``current`` is one of this atb's revisions (``None``, no tables, counts as known)
    untracked: tuple[str, ...] = ()  # atb's tables found in a database without a revision (``current`` None)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def problem(self) -> str | None:
        """Why atb cannot use this database yet, in words (``None``: it can)."""
        if self.up_to_date:
            return None
        if self.current is None and self.untracked:
            shown = ", ".join(self.untracked[:3]) + (", ..." if len(self.untracked) > 3 else "")
            return (
                f"the database has atb tables ({shown}) but no alembic_version table: it was not created by "
                "`atb db upgrade`, so its revision is unknown; move those tables away (or use another database) "
                "and run `atb db upgrade`"
            )
        if self.current is None:
            return "the database has no atb tables: run `atb db upgrade`"
        if not self.known:
            return f"the database is at an unknown revision {self.current} (newer atb?); this atb knows {self.head}"
        return f"the database is at revision {self.current}, atb needs {self.head}: run `atb db upgrade`"


_URL_HELP = "use sqlite:///path/atb.db or postgresql+psycopg2://user:password@host:5432/dbname"


def _parse(url: str) -> URL:
    """``url`` parsed, or ``PersistenceError`` with one line that shows it redacted (application/redaction.py):
    the password is hidden before any parsing error names the URL, however malformed it is."""
    shown = redact_url(url)
    if not _SCHEME.match(url):
        raise PersistenceError(f"invalid database URL: not a URL (not shown: it may hold a password); {_URL_HELP}")
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise PersistenceError(f"invalid database URL {shown}; {_URL_HELP}") from None
    except ValueError:  # SQLAlchemy's int(port): a port that is not a number, or a password with no host
        raise PersistenceError(
            f"invalid database URL {shown}: the port is not a number or the host is missing "
            "(in a password, write ':', '/' and '@' as %3A, %2F and %40)"
        ) from None
    if "@" in (parsed.host or ""):
        raise PersistenceError(
            f"invalid database URL {shown}: more than one '@' before the host; percent-encode '@' in the user "
            "name or password as %40"
        )
    if parsed.get_backend_name() not in SUPPORTED:
        raise PersistenceError(
            f"unsupported database {parsed.get_backend_name()!r} in {shown}; use sqlite or postgresql"
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
                _make_directory(Path(self.url.database).expanduser().parent)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = {"connect_timeout": 5}
        try:
            self.engine: Engine = sa.create_engine(self.url, **kwargs)
        except (sa.exc.SQLAlchemyError, ImportError) as e:
            raise PersistenceError(
                f"cannot use the database URL {safe_url(self.url)}: {scrub(_first_line(e), self.url)}"
            ) from e
        if self.url.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_settings(cls, database_url: str | None, data_dir: str | Path | None = None) -> Database:
        return cls(resolve_url(database_url, data_dir))

    @property
    def display_url(self) -> str:
        """The URL to show anywhere (success lines, errors): secrets hidden, application/redaction.py."""
        return safe_url(self.url)

    def __repr__(self) -> str:
        return f"Database({self.display_url})"

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
        cfg.set_main_option("script_location", str(migrations_directory()))
        cfg.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        cfg.attributes["configure_logger"] = False
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        self.check()
        self._refuse_unknown("upgrade")
        try:
            command.upgrade(self._alembic(), revision)
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self.url) from e
        except CommandError as e:
            raise PersistenceError(
                f"cannot upgrade {self.display_url} to {revision!r}: {scrub(_first_line(e), self.url)}"
            ) from e

    def downgrade(self, revision: str = "-1") -> None:
        self.check()
        self._refuse_unknown("downgrade")
        try:
            command.downgrade(self._alembic(), revision)
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self.url) from e
        except CommandError as e:
            raise PersistenceError(
                f"cannot downgrade {self.display_url} to {revision!r}: {scrub(_first_line(e), self.url)}"
            ) from e

    def _refuse_unknown(self, action: str) -> None:
        status = self.status()
        if status.untracked:
            raise PersistenceError(f"cannot {action} {self.display_url}: {status.problem()}")
        if not status.known:
            raise PersistenceError(
                f"cannot {action} {self.display_url}: it is at an unknown revision {status.current} (newer atb?)"
            )

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

    def status(self) -> SchemaStatus:
        """The database's revision and this atb's newest (one connection; raises one line when unreachable)."""
        current = self.current()
        script = ScriptDirectory.from_config(self._alembic())
        known = current is None or current in {r.revision for r in script.walk_revisions()}
        return SchemaStatus(current, script.get_current_head(), known, self._untracked() if current is None else ())

    def _untracked(self) -> tuple[str, ...]:
        """atb's tables present in the database (asked when it records no revision)."""
        from adapters.persistence.schema import metadata

        try:
            present = set(sa.inspect(self.engine).get_table_names())
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self.url) from e
        return tuple(sorted(present & set(metadata.tables)))

    def require_current(self) -> None:
        """Raise ``PersistenceError`` (one line) unless the database is at this atb's newest revision: called
        before work that writes or reads the tables (``atb backtest --save``, ``atb sessions``)."""
        problem = self.status().problem()
        if problem is not None:
            raise PersistenceError(f"{self.display_url}: {problem}")

    def revisions(self) -> list[str]:
        """Every revision, oldest first."""
        script = ScriptDirectory.from_config(self._alembic())
        return [r.revision for r in reversed(list(script.walk_revisions()))]

    def dispose(self) -> None:
        self.engine.dispose()


def _make_directory(directory: Path) -> None:
    """The SQLite file's directory (the data directory), created if missing; one line when it cannot be."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        blocked = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocked} is a file, not a directory" if blocked is not None else e.strerror or str(e)
        raise PersistenceError(f"cannot create the database's directory {directory}: {reason}") from None


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
