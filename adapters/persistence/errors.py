"""Database errors as one readable line (``PersistenceError``), never with a password in it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import URL

from application.ports.repositories import PersistenceError
from application.redaction import is_secret_name, redact_text, redact_url


def safe_url(url: URL) -> str:
    """The URL to show: password and secret-named query values (``?password=``, ``sslpassword`` ...) hidden
    (application/redaction.py)."""
    return redact_url(url.render_as_string(hide_password=False))


def scrub(text: str, url: URL) -> str:
    """``text`` (a driver's message) without any piece of ``url``'s secrets, as written or decoded."""
    known = [url.render_as_string(hide_password=False), url.password or ""]
    known += [v for k, v in url.query.items() if isinstance(v, str) and is_secret_name(k)]
    return redact_text(text, known)


def translate(error: sa.exc.SQLAlchemyError, url: URL) -> PersistenceError:
    """The driver's message, first line only, with where it came from."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip().splitlines()
    first = scrub(text[0].strip(), url) if text else type(error).__name__
    lowered = first.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return PersistenceError(f"the database at {safe_url(url)} has no atb tables ({first}); run `atb db upgrade`")
    if isinstance(error, sa.exc.OperationalError) and ("connect" in lowered or "could not" in lowered):
        return PersistenceError(f"cannot reach the database at {safe_url(url)}: {first}")
    return PersistenceError(f"database error at {safe_url(url)}: {first}")
