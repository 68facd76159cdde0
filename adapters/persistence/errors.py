"""Database errors as one readable line (``PersistenceError``), never with a password in it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import URL

from application.ports.repositories import PersistenceError


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def translate(error: sa.exc.SQLAlchemyError, url: URL) -> PersistenceError:
    """The driver's message, first line only, with where it came from."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip().splitlines()
    first = text[0].strip() if text else type(error).__name__
    lowered = first.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return PersistenceError(f"the database at {safe_url(url)} has no atb tables ({first}); run `atb db upgrade`")
    if isinstance(error, sa.exc.OperationalError) and ("connect" in lowered or "could not" in lowered):
        return PersistenceError(f"cannot reach the database at {safe_url(url)}: {first}")
    return PersistenceError(f"database error at {safe_url(url)}: {first}")
