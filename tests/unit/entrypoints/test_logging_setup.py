"""Logging: one stderr handler, secrets redacted from messages and tracebacks, JSON lines on request."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest

from entrypoints.logging_setup import configure_logging

SECRET = "s3cr3t-VALUE-8842"


def emit_secrets(log: logging.Logger) -> None:
    log.warning("connecting with key %s", SECRET)
    log.warning("request api_key=XYZ&symbol=BTCUSDT")
    log.warning("login password: hunter2 accepted")
    log.warning("database at postgresql://user:pw@host/db is up")
    log.warning('payload {"api_secret": "abc123def", "token":"tok-555"}')


def test_text_format_redacts_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [SECRET])
    emit_secrets(logging.getLogger("atb.test"))
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 5
    for leaked in (SECRET, "XYZ", "hunter2", ":pw@", "abc123def", "tok-555"):
        assert leaked not in err
    assert "key ***" in err
    assert "api_key=***" in err
    assert "password: ***" in err
    assert "postgresql://user:***@host/db" in err
    assert "symbol=BTCUSDT" in err  # what is not a credential stays readable
    assert "WARNING" in err
    assert "atb.test" in err


def test_exception_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [SECRET])
    log = logging.getLogger("atb.test")
    try:
        raise ConnectionError(f"login with {SECRET} failed for postgresql://user:pw@host/db, password=hunter2")
    except ConnectionError:
        log.exception("could not connect (key %s)", SECRET)
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "ConnectionError" in err
    assert "could not connect" in err
    for leaked in (SECRET, "hunter2", ":pw@"):
        assert leaked not in err


def test_json_format_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", "json", [SECRET])
    log = logging.getLogger("atb.json")
    before = datetime.now().astimezone()
    log.debug("first %d", 1)
    log.info('quotes " and\nnew line')
    try:
        raise ValueError(f"bad {SECRET}")
    except ValueError:
        log.exception("failed with api_key=XYZ")
    after = datetime.now().astimezone()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    for record in records:
        assert isinstance(record, dict)
        assert {"ts", "level", "logger", "message"} <= set(record)
        assert record["logger"] == "atb.json"
        ts = datetime.fromisoformat(record["ts"])
        assert ts.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= ts <= after + timedelta(seconds=1)
    assert [r["level"] for r in records] == ["DEBUG", "INFO", "ERROR"]
    assert records[0]["message"] == "first 1"
    assert records[1]["message"] == 'quotes " and\nnew line'
    assert "XYZ" not in lines[2]
    assert SECRET not in lines[2]
    assert "Traceback" in records[2]["exc"]
    assert "ValueError" in records[2]["exc"]
    assert "exc" not in records[0]


def test_level_filters_records(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", "text")
    log = logging.getLogger("atb.level")
    log.info("quiet-info")
    log.warning("loud-warning")
    err = capsys.readouterr().err
    assert "quiet-info" not in err
    assert "loud-warning" in err


def test_reconfiguring_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    configure_logging("INFO", "json")
    logging.getLogger("atb.again").info("once")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["message"] == "once"


def test_secrets_from_one_configuration_do_not_leak_after_reconfiguring(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [SECRET])
    configure_logging("INFO", "text", [SECRET, "another-SECRET-1"])
    logging.getLogger("atb.x").info("%s and %s", SECRET, "another-SECRET-1")
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "another-SECRET-1" not in err


def test_log_records_are_redacted_when_made_so_every_handler_sees_them_redacted() -> None:
    configure_logging("INFO", "text", [SECRET])
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    log = logging.getLogger("atb.other-handler")
    keep = Keep()
    log.addHandler(keep)  # a handler that is not atb's: it has no redacting filter
    try:
        log.warning("url %s and key %s", "postgresql://u@h/db?sslpassword=pw-77&sslmode=require", SECRET)
        try:
            raise RuntimeError(f"failed at postgresql://u:pw-88@h/db with {SECRET}")
        except RuntimeError:
            log.exception("boom")
    finally:
        log.removeHandler(keep)
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in seen)
    assert len(seen) == 2 and "sslmode=require" in text and "RuntimeError" in text
    for leaked in (SECRET, "pw-77", "pw-88"):
        assert leaked not in text


def test_python_warnings_are_redacted() -> None:
    import warnings

    configure_logging("INFO", "text", [SECRET])
    # the default warnings.showwarning writes what warnings.formatwarning returns (pytest records warnings itself)
    text = warnings.formatwarning(f"ignored postgresql://h/db?password=pw-99 and {SECRET}", UserWarning, "x.py", 3)
    assert "UserWarning" in text and "postgresql://h/db?password=***" in text
    assert "pw-99" not in text and SECRET not in text
