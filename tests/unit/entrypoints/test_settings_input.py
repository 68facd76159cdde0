"""Settings input is never silently ignored: names are case-insensitive (a typo in any case is an error, two
spellings of one name are refused), a ``.env`` that is not UTF-8 is one line naming its line (never its bytes),
and empty paths are refused (docs/adr/0017-exit-contract.md)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from entrypoints.settings import SettingsError, load_settings


def error(env: Path | None = None) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings({}, env)
    message = str(info.value)
    assert message and "\n" not in message
    return message


@pytest.mark.parametrize("name", ["atb_fee_bps", "Atb_Fee_Bps", "ATB_fee_bps"])
def test_a_setting_name_in_any_case_is_honoured(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "7")
    assert load_settings({}, None).fee_bps == Decimal(7)


def test_a_lowercase_setting_name_in_the_env_file_is_honoured(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("atb_slippage_bps=3\n")
    assert load_settings({}, tmp_path / ".env").slippage_bps == Decimal(3)


@pytest.mark.parametrize("name", ["atb_fee_bpz", "Atb_Nope", "ATB_FEE_BPZ"])
def test_an_unknown_name_is_an_error_in_any_case(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "7")
    assert error().startswith(f"unknown setting {name};")


def test_a_lowercase_typo_in_the_env_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ATB_FEE_BPS=5\nexport atb_fee_bpz=7\n")
    assert error(tmp_path / ".env").startswith("unknown setting atb_fee_bpz;")


def test_two_spellings_of_one_name_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_FEE_BPS", "5")
    monkeypatch.setenv("atb_fee_bps", "7")
    assert "ATB_FEE_BPS and atb_fee_bps are both set" in error()


@pytest.mark.parametrize("before", ["", "a\u2028b=1\n", "a=1\fb\n", "x=1\r\n\r\n"])
def test_a_env_file_that_is_not_utf8_names_its_line_and_hides_its_bytes(tmp_path: Path, before: str) -> None:
    # line separators other than \n (U+2028, a form feed, \r) do not shift the count: the file is read by lines
    path = tmp_path / "x.env"
    head = before.encode("utf-8")
    path.write_bytes(head + b"ATB_FEE_BPS=5\nATB_BINANCE_API_SECRET=abc\xff\xfedef\n")
    line = head.count(b"\n") + 2
    message = error(path)
    assert message == f"{path}, line {line}: not UTF-8 text; save the file as UTF-8"


@pytest.mark.parametrize("name", ["ATB_DATA_DIR", "ATB_MODELS_DIR", "ATB_DEFAULT_SYMBOL", "ATB_DEFAULT_TIMEFRAME"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_path_or_name_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    message = error()
    assert name in message and "must not be empty" in message


def test_an_empty_database_url_still_means_the_default_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_DATA_DIR", "/tmp/somewhere")
    monkeypatch.setenv("DATABASE_URL", "")
    assert load_settings({}, None).sqlite_path() == Path("/tmp/somewhere/atb.db")
