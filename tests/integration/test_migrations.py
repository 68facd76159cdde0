"""Alembic is wired: the environment loads atb's metadata and runs against a database."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[2]


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def test_upgrade_to_head_runs_on_sqlite_and_records_the_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'atb.db'}"
    cfg = _config(url)
    command.upgrade(cfg, "head")
    heads = ScriptDirectory.from_config(cfg).get_heads()
    with sa.create_engine(url).connect() as conn:
        if heads:
            assert conn.execute(sa.text("select version_num from alembic_version")).scalar() in heads
        else:
            # No revision yet ([M4] adds the tables): only Alembic's own bookkeeping table exists.
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
            assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 0


def test_the_database_matches_the_metadata_after_upgrade(tmp_path: Path) -> None:
    """`alembic check` compares the upgraded database with adapters.persistence.metadata."""
    cfg = _config(f"sqlite:///{tmp_path / 'atb.db'}")
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises if the migrations lag behind the tables the code declares


def test_alembic_ini_and_the_installed_package_name_the_same_scripts() -> None:
    """Developers' `alembic` (alembic.ini) and atb's own Config (the `migrations` package, found as a package
    resource) use one directory: in a checkout, the repository's migrations/."""
    from adapters.persistence.database import migrations_directory

    from_ini = ScriptDirectory.from_config(_config("sqlite://")).dir
    assert Path(from_ini).resolve() == migrations_directory().resolve() == (ROOT / "migrations").resolve()
