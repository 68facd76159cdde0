"""Logging, configured in one place: level and format from settings, secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

# key=value / "key": "value" pairs whose value must never reach a log, whatever the message.
_SECRET_PAIRS = re.compile(
    r"(?i)((?:api[_-]?key|api[_-]?secret|secret|password|passwd|token|signature)[\"']?\s*[:=]\s*[\"']?)([^\s\"',&]+)"
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
REDACTED = "***"


class RedactingFilter(logging.Filter):
    """Replaces known secret values and anything that looks like a credential with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _SECRET_PAIRS.sub(lambda m: m.group(1) + REDACTED, text)
        return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


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


def configure_logging(level: str = "WARNING", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """(Re)configure the root logger: one stderr handler, redaction on every record."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
