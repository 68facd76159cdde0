"""Logging, configured in one place: level and format from settings, secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from application.redaction import REDACTED, is_secret_name, redact_text

__all__ = ["REDACTED", "RedactingFilter", "configure_logging", "known_secrets"]


class RedactingFilter(logging.Filter):
    """Applies the one redaction rule (application/redaction.py) to a record's message and traceback: known
    secret values (and the pieces of URL-valued ones), every URL's password and secret query values, and
    ``name=value`` pairs named like secrets become ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        return redact_text(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_atb_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let logging report it as it would
            return True
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        setattr(record, "_atb_redacted", True)  # noqa: B010
        return True


# Every record is redacted when it is made, not only when our handler writes it: a record reaches other
# handlers too (pytest's caplog, a library's own), and none of them may see a secret.
_state: dict[str, Any] = {"redactor": None, "base_factory": None}


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _state["base_factory"](*args, **kwargs)
    redactor = _state["redactor"]
    if redactor is not None:
        redactor.filter(record)
    return record


def _redacting_formatwarning(*args: Any, **kwargs: Any) -> str:
    text: str = _state["base_formatwarning"](*args, **kwargs)
    redactor = _state["redactor"]
    return redactor.redact(text) if redactor is not None else text


def _install(redactor: RedactingFilter) -> None:
    _state["redactor"] = redactor
    if _state["base_factory"] is None:
        _state["base_factory"] = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)
        # Python warnings (a library's, on stderr) are text that may quote a URL too: same rule, same format.
        _state["base_formatwarning"] = warnings.formatwarning
        warnings.formatwarning = _redacting_formatwarning


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC ISO 8601), level, logger, message, and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


# The seed's names for secret settings; ATB_ ones are recognised by their names (is_secret_name).
_SECRET_VARIABLES = ("DATABASE_URL", "ATB_DATABASE_URL", "BINANCE_API_KEY", "BINANCE_API_SECRET", "COINBASE_API_KEY",
                     "COINBASE_API_SECRET")  # fmt: skip


def known_secrets() -> list[str]:
    """The secret values known now: those logging was configured with (the settings'), and the secret-named
    setting variables in the environment (an error may come before the settings are read)."""
    redactor = _state["redactor"]
    values = list(redactor.secrets) if redactor is not None else []
    for name, value in os.environ.items():
        upper = name.upper()
        if value and (upper in _SECRET_VARIABLES or (upper.startswith("ATB_") and is_secret_name(upper[4:]))):
            values.append(value)
    return values


def configure_logging(level: str = "WARNING", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """(Re)configure the root logger: one stderr handler, redaction on every record."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    redactor = RedactingFilter(secrets)
    _install(redactor)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redactor)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
