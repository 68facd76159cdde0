"""``atb db``: migrate the database (Alembic) and say which revision it is at."""

from __future__ import annotations

from typing import Any

import click

from entrypoints.cli.common import cli_settings


def persistence_container(ctx: click.Context) -> Any:
    """The container, with the database settings (``DATABASE_URL``, ``data_dir``) applied.

    A container placed on ``ctx.obj["container"]`` wins (tests)."""
    obj = ctx.find_root().obj or {}
    if obj.get("container") is not None:
        return obj["container"]
    from entrypoints.container import build_container

    settings = cli_settings(ctx)
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return build_container({"mode": "backtest", "database_url": url, "data_dir": str(settings.data_dir)})


@click.group()
def db() -> None:
    """The database: DATABASE_URL (postgresql+psycopg2://...) or a SQLite file in the data directory."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    database = persistence_container(ctx).database()
    database.upgrade(revision)
    click.echo(f"{database.display_url}: at revision {database.current() or 'base'}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@click.option("--yes", is_flag=True, help="Do not ask; downgrading drops tables and their data.")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str, yes: bool) -> None:
    """Migrate the database down to REVISION (default: one step; 'base' removes every atb table)."""
    database = persistence_container(ctx).database()
    if not yes:
        click.confirm(f"downgrade {database.display_url} to {revision}? Dropped tables lose their data", abort=True)
    database.downgrade(revision)
    click.echo(f"{database.display_url}: at revision {database.current() or 'base'}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """The revision the database is at, and the newest one this version of atb knows."""
    database = persistence_container(ctx).database()
    database.check()
    status = database.status()
    if status.up_to_date:
        click.echo(f"{database.display_url}: at revision {status.current} (up to date)")
    elif status.untracked:
        click.echo(f"{database.display_url}: {status.problem()}")
    elif status.current is None:
        click.echo(f"{database.display_url}: no atb tables (newest revision {status.head}); run `atb db upgrade`")
    elif not status.known:
        click.echo(f"{database.display_url}: at revision {status.current}, unknown to this atb (newer atb?); "
                   f"this atb knows up to {status.head}")  # fmt: skip
    else:
        click.echo(f"{database.display_url}: at revision {status.current}, newest is {status.head}; "
                   "run `atb db upgrade`")  # fmt: skip


def checked_container(ctx: click.Context) -> Any:
    """``persistence_container``, after checking the database is at this atb's newest revision (one line
    otherwise, before any work)."""
    container = persistence_container(ctx)
    container.database().require_current()
    return container
