"""Settings: defaults < .env < environment (ATB_ and the seed's names) < overrides; one-line errors; secrets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from entrypoints.settings import Settings, SettingsError, load_settings

SECRET_KEY = "k3y-TOPSECRET-7f3a9"
SECRET_PASSWORD = "pw-TOPSECRET-91c2"
SECRET_URL = f"postgresql://trader:{SECRET_PASSWORD}@db.example:5432/atb"


def env_file(folder: Path, *lines: str) -> Path:
    path = folder / ".env"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def one_line_error(overrides: dict[str, object] | None = None, env: Path | None = None) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides, env)
    msg = str(info.value)
    assert msg
    assert "\n" not in msg
    return msg


# --- precedence ----------------------------------------------------------------------------------------------


def test_defaults_without_env_file_or_environment(tmp_path: Path) -> None:
    s = load_settings(None, tmp_path / "absent.env")
    assert isinstance(s, Settings)
    assert s.initial_balance == Decimal(10_000)  # "default 10000" in the CLI help
    assert s.fee_bps == Decimal(10)  # "default 10 = 0.1%"
    assert s.mode == "backtest"
    assert s.database_url is None
    assert s.binance_api_key is None
    assert s.secrets() == []


@pytest.mark.parametrize("name", ["ATB_INITIAL_BALANCE", "INITIAL_BALANCE"])
def test_env_file_beats_default(tmp_path: Path, name: str) -> None:
    s = load_settings(None, env_file(tmp_path, f"{name}=500"))
    assert s.initial_balance == Decimal(500)


def test_the_default_env_file_is_dot_env_in_the_working_folder(tmp_path: Path) -> None:
    env_file(tmp_path, "ATB_FEE_BPS=7.5")  # the fixture made tmp_path the working folder
    assert load_settings().fee_bps == Decimal("7.5")


def test_env_file_none_reads_no_file(tmp_path: Path) -> None:
    env_file(tmp_path, "ATB_FEE_BPS=7.5")
    assert load_settings(None, None).fee_bps == Decimal(10)


@pytest.mark.parametrize("file_name", ["ATB_INITIAL_BALANCE", "INITIAL_BALANCE"])
@pytest.mark.parametrize("env_name", ["ATB_INITIAL_BALANCE", "INITIAL_BALANCE"])
def test_environment_beats_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_name: str, env_name: str
) -> None:
    monkeypatch.setenv(env_name, "700")
    s = load_settings(None, env_file(tmp_path, f"{file_name}=500"))
    assert s.initial_balance == Decimal(700)


def test_the_atb_name_beats_the_seed_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INITIAL_BALANCE", "7")
    monkeypatch.setenv("ATB_INITIAL_BALANCE", "5")
    assert load_settings(None, None).initial_balance == Decimal(5)


def test_a_bare_field_name_in_the_environment_is_not_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODE", "live")
    monkeypatch.setenv("FEE_BPS", "99")
    s = load_settings(None, None)
    assert (s.mode, s.fee_bps) == ("backtest", Decimal(10))


def test_overrides_beat_environment_and_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_INITIAL_BALANCE", "700")
    monkeypatch.setenv("ATB_FEE_BPS", "3")
    env = env_file(tmp_path, "ATB_INITIAL_BALANCE=500", "ATB_SLIPPAGE_BPS=2")
    s = load_settings({"initial_balance": Decimal(900)}, env)
    assert s.initial_balance == Decimal(900)  # flag
    assert s.fee_bps == Decimal(3)  # environment
    assert s.slippage_bps == Decimal(2)  # .env


def test_overrides_that_are_none_leave_lower_layers_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_FEE_BPS", "3")
    s = load_settings({"fee_bps": None, "log_level": None}, None)
    assert s.fee_bps == Decimal(3)


@pytest.mark.parametrize(("name", "value"), [("LOG_LEVEL", "debug"), ("ATB_LOG_LEVEL", "Info")])
def test_log_level_from_environment_is_case_insensitive(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    assert load_settings(None, None).log_level == value.upper()


def test_log_level_override_beats_env_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    s = load_settings({"log_level": "ERROR"}, env_file(tmp_path, "ATB_LOG_LEVEL=DEBUG"))
    assert s.log_level == "ERROR"


def test_seed_names_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", SECRET_URL)
    monkeypatch.setenv("BINANCE_API_KEY", SECRET_KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET_PASSWORD)
    monkeypatch.setenv("TRADING_MODE", "paper")
    s = load_settings(None, None)
    assert isinstance(s.database_url, SecretStr)
    assert s.database_url.get_secret_value() == SECRET_URL
    assert s.binance_api_key is not None
    assert s.binance_api_key.get_secret_value() == SECRET_KEY
    assert s.binance_api_secret is not None
    assert s.binance_api_secret.get_secret_value() == SECRET_PASSWORD
    assert s.mode == "paper"
    assert sorted(s.secrets()) == sorted([SECRET_URL, SECRET_KEY, SECRET_PASSWORD])


def test_atb_names_in_env_file(tmp_path: Path) -> None:
    s = load_settings(
        None,
        env_file(tmp_path, "# a comment", "", f"ATB_DATABASE_URL={SECRET_URL}", "ATB_DEFAULT_SYMBOL=ETHUSDT"),
    )
    assert s.database_url is not None
    assert s.database_url.get_secret_value() == SECRET_URL
    assert s.default_symbol == "ETHUSDT"


# --- unknown names and invalid values ------------------------------------------------------------------------


def test_unknown_atb_variable_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_FOO", "1")
    assert "ATB_FOO" in one_line_error()


@pytest.mark.parametrize("line", ["ATB_FOO=1", "export ATB_FOO=1", "ATB_FOO = 1"])
def test_unknown_atb_variable_in_env_file(tmp_path: Path, line: str) -> None:
    assert "ATB_FOO" in one_line_error(None, env_file(tmp_path, "ATB_FEE_BPS=5", line))


def test_unknown_error_lists_the_known_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_FEE_BSP", "5")  # a typo
    msg = one_line_error()
    assert "ATB_FEE_BSP" in msg
    assert "ATB_FEE_BPS" in msg


def test_other_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOO", "1")
    monkeypatch.setenv("ATBX", "1")
    assert load_settings(None, None).fee_bps == Decimal(10)


@pytest.mark.parametrize(
    ("name", "value", "setting"),
    [
        ("ATB_FEE_BPS", "abc", "fee_bps"),
        ("ATB_LOG_LEVEL", "LOUD", "log_level"),
        ("ATB_INITIAL_BALANCE", "-5", "initial_balance"),
        ("INITIAL_BALANCE", "zero", "initial_balance"),
        ("ATB_MODE", "yolo", "mode"),
        ("ATB_LOG_FORMAT", "xml", "log_format"),
        ("ATB_SLIPPAGE_BPS", "5000", "slippage_bps"),
    ],
)
def test_invalid_values_in_environment(monkeypatch: pytest.MonkeyPatch, name: str, value: str, setting: str) -> None:
    monkeypatch.setenv(name, value)
    msg = one_line_error()
    assert setting in msg.lower()


def test_invalid_value_in_env_file(tmp_path: Path) -> None:
    msg = one_line_error(None, env_file(tmp_path, "ATB_FEE_BPS=abc"))
    assert "ATB_FEE_BPS" in msg  # names the variable the user set...
    assert "abc" not in msg  # ...never the value it could not parse (it may be a misplaced secret, ADR 0013)


def test_invalid_override() -> None:
    assert "initial_balance" in one_line_error({"initial_balance": Decimal(0)})


# --- secrets -------------------------------------------------------------------------------------------------


def test_secrets_are_not_in_repr_or_str(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", SECRET_KEY)
    s = load_settings(None, env_file(tmp_path, f"DATABASE_URL={SECRET_URL}"))
    assert s.secrets()  # they are set...
    for text in (repr(s), str(s)):
        assert SECRET_KEY not in text  # ...and never shown
        assert SECRET_PASSWORD not in text


def test_secrets_are_not_in_errors_about_other_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", SECRET_KEY)
    monkeypatch.setenv("ATB_FEE_BPS", "abc")
    msg = one_line_error(None, env_file(tmp_path, f"ATB_DATABASE_URL={SECRET_URL}"))
    assert SECRET_KEY not in msg
    assert SECRET_PASSWORD not in msg


def test_secrets_are_not_in_unknown_name_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_BINANCE_API_KEY", SECRET_KEY)
    monkeypatch.setenv("ATB_BINANCE_APIKEY", SECRET_PASSWORD)
    msg = one_line_error()
    assert "ATB_BINANCE_APIKEY" in msg
    assert SECRET_KEY not in msg
    assert SECRET_PASSWORD not in msg


@pytest.mark.parametrize("field", ["binance_api_key", "database_url", "coinbase_api_secret"])
def test_invalid_secret_value_is_not_echoed(field: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({field: [SECRET_KEY]}, None)
    msg = str(info.value)
    assert field in msg
    assert SECRET_KEY not in msg
    assert "\n" not in msg
    # Not chained to pydantic's error, whose text would hold the value.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
