"""Alembic environment: metadata from ``adapters.persistence``; URL from the environment or alembic config."""

from __future__ import annotations

import os
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import engine_from_config, pool

from adapters.persistence import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """An explicit ``sqlalchemy.url`` (tests, ``atb db``) wins, then DATABASE_URL, then a SQLite file."""
    url = (
        config.get_main_option("sqlalchemy.url") or os.environ.get("ATB_DATABASE_URL") or os.environ.get("DATABASE_URL")
    )
    if url:
        return url
    data_dir = Path(os.environ.get("ATB_DATA_DIR", "~/.local/share/atb")).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'atb.db'}"


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    section = config.get_section(config.config_ini_section) or {}
    section["sqlalchemy.url"] = database_url()
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
