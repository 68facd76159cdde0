"""Settings: defaults < ``.env`` < environment (``ATB_...``, plus the seed's names) < CLI flags.

The seed system's variable names (DATABASE_URL, BINANCE_API_KEY, BINANCE_API_SECRET, TRADING_MODE,
INITIAL_BALANCE, LOG_LEVEL) are honoured beside the ``ATB_`` ones; an ``ATB_`` variable that names no
setting is an error, so a typo never passes silently.
"""

from __future__ import annotations

import io
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ATB_"


class SettingsError(Exception):
    """A setting has an unknown name or an invalid value; the message is one line."""


def _alias(name: str, *legacy: str) -> Any:
    # The first alias found wins: ATB_ names before the seed's. No bare field name as an alias: env vars are
    # matched case-insensitively, so "mode" would also match a stray MODE variable (flags use the field name).
    return AliasChoices(ENV_PREFIX + name.upper(), *legacy)


class Settings(BaseSettings):
    """atb's configuration. Secrets are ``SecretStr``: never printed, never logged."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    mode: Literal["backtest", "paper", "live"] = Field("backtest", validation_alias=_alias("mode", "TRADING_MODE"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", validation_alias=_alias("log_level", "LOG_LEVEL")
    )
    log_format: Literal["text", "json"] = Field("text", validation_alias=_alias("log_format"))
    # Numbers are finite and bounded (docs/adr/0016-numbers.md): a balance up to 1e15 (the database keeps 20
    # integer digits), fees and slippage up to 1000 bps (10 %), a promotion margin up to 1 (100 points).
    initial_balance: Decimal = Field(
        Decimal(10_000), gt=0, le=Decimal("1e15"), allow_inf_nan=False,
        validation_alias=_alias("initial_balance", "INITIAL_BALANCE"),
    )  # fmt: skip
    fee_bps: Decimal = Field(Decimal(10), ge=0, le=1000, allow_inf_nan=False, validation_alias=_alias("fee_bps"))
    slippage_bps: Decimal = Field(
        Decimal(5), ge=0, le=1000, allow_inf_nan=False, validation_alias=_alias("slippage_bps")
    )
    # Global risk overrides, ``;``-separated: "max_drawdown=0.3;drawdown_steps=0.05:0.8,0.1:0.6".
    risk_limits: str = Field("", validation_alias=_alias("risk_limits"))
    default_symbol: str = Field("BTCUSDT", validation_alias=_alias("default_symbol"))
    default_timeframe: str = Field("1h", validation_alias=_alias("default_timeframe"))
    database_url: SecretStr | None = Field(None, validation_alias=_alias("database_url", "DATABASE_URL"))
    data_dir: Path = Field(Path("~/.local/share/atb"), validation_alias=_alias("data_dir"))
    # The model registry (atb train writes there); default: data_dir/models. The bundled models are read beside it.
    models_dir: Path | None = Field(None, validation_alias=_alias("models_dir"))
    # User strategies (docs/user-strategies.md); default: data_dir/strategies, and a missing default is simply empty.
    strategies_dir: Path | None = Field(None, validation_alias=_alias("strategies_dir"))
    # Promotion guard: a version is refused when its total return on a stress window is more than this below
    # the current latest's (0.05 = 5 percentage points). Windows: "name=YYYY-MM-DD..YYYY-MM-DD;..." ("" = the
    # documented defaults in application/use_cases/models.py).
    promotion_margin: float = Field(0.05, ge=0, le=1, allow_inf_nan=False, validation_alias=_alias("promotion_margin"))
    stress_windows: str = Field("", validation_alias=_alias("stress_windows"))
    # Caps on one candle file (--data): its text once decompressed, and its rows (docs/adr/0014-bounded-input.md).
    max_data_bytes: int = Field(2 << 30, gt=0, validation_alias=_alias("max_data_bytes"))
    max_data_rows: int = Field(20_000_000, gt=0, validation_alias=_alias("max_data_rows"))
    binance_api_key: SecretStr | None = Field(None, validation_alias=_alias("binance_api_key", "BINANCE_API_KEY"))
    binance_api_secret: SecretStr | None = Field(
        None, validation_alias=_alias("binance_api_secret", "BINANCE_API_SECRET")
    )
    coinbase_api_key: SecretStr | None = Field(None, validation_alias=_alias("coinbase_api_key", "COINBASE_API_KEY"))
    coinbase_api_secret: SecretStr | None = Field(
        None, validation_alias=_alias("coinbase_api_secret", "COINBASE_API_SECRET")
    )

    @field_validator("data_dir", "models_dir", "strategies_dir", "default_symbol", "default_timeframe", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        # ATB_DATA_DIR='' would otherwise mean the working directory (./atb.db): an empty value is refused
        if isinstance(value, str | Path) and not str(value).strip():
            raise ValueError("must not be empty; unset it to use the default")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def risk_layer(self) -> dict[str, str]:
        """The global risk overrides (``ATB_RISK_LIMITS``), as ``name -> value``; validated when merged."""
        layer: dict[str, str] = {}
        for number, item in enumerate(filter(None, (part.strip() for part in self.risk_limits.split(";"))), 1):
            name, sep, value = item.partition("=")
            if not sep:  # the item is not shown: settings never echo what they could not parse (ADR 0013)
                raise SettingsError(f"invalid setting risk_limits: item {number} is not name=value")
            layer[name.strip()] = value.strip()
        return layer

    def sqlite_path(self) -> Path | None:
        """The SQLite file the database lives in (``data_dir/atb.db`` unless ``database_url``); None for a
        server database or an in-memory one."""
        if self.database_url is None or not self.database_url.get_secret_value():
            return (self.data_dir / "atb.db").expanduser()
        url = self.database_url.get_secret_value()
        scheme, sep, rest = url.partition(":///")
        if not sep or scheme.split("+", 1)[0] != "sqlite":
            return None
        path = rest.split("?", 1)[0]
        return Path(path).expanduser() if path and path != ":memory:" else None

    def models_root(self) -> Path:
        """Where trained models are registered: ``models_dir``, else ``data_dir/models``."""
        return (self.models_dir or self.data_dir / "models").expanduser()

    def strategies_root(self) -> Path:
        """Where user strategy files are read from: ``strategies_dir``, else ``data_dir/strategies``."""
        return (self.strategies_dir or self.data_dir / "strategies").expanduser()

    def secrets(self) -> list[str]:
        """Every secret value that is set (for log redaction)."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


def _env_lines(env_file: Path) -> list[str]:
    """The lines of a ``.env`` file; one line naming the file (and the line) when it cannot be read as UTF-8.
    The bytes are never echoed: the file may hold secrets."""
    try:
        data = env_file.read_bytes()
    except OSError as e:
        raise SettingsError(f"cannot read the env file {env_file}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SettingsError(f"{env_file}, line {line}: not UTF-8 text; save the file as UTF-8") from None
    return text.split("\n")


def _check_unknown(environ: dict[str, str], env_file: Path | None) -> None:
    # Names are case-insensitive, as pydantic-settings reads them (atb_fee_bps sets fee_bps): so a typo is caught in
    # any case, and two spellings of one name in the environment are refused rather than one silently winning.
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    names = [k for k in environ if k.upper().startswith(ENV_PREFIX)]
    spellings: dict[str, list[str]] = {}
    for name in names:
        spellings.setdefault(name.upper(), []).append(name)
    clash = sorted(v for v in spellings.values() if len(v) > 1)
    if clash:
        raise SettingsError(f"{' and '.join(sorted(clash[0]))} are both set: setting names are case-insensitive; "
                            "keep one")  # fmt: skip
    if env_file is not None and env_file.is_file():
        from dotenv.parser import parse_stream  # how pydantic-settings reads the file: multi-line values too

        for binding in parse_stream(io.StringIO("\n".join(_env_lines(env_file)))):
            # Never the line itself: "ATB_BINANCE_API_SECRET S3cret" is a secret missing its "=".
            if binding.error:
                raise SettingsError(
                    f"{env_file} line {binding.original.line}: not NAME=value "
                    "(the line is not shown: it may hold a secret)"
                )
            if binding.key is not None and binding.key.upper().startswith(ENV_PREFIX):
                names.append(binding.key)
    unknown = sorted({n for n in names if n.upper() not in known})
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]}; known: {', '.join(sorted(known))}")


def load_settings(overrides: dict[str, Any] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Settings from defaults, ``env_file``, the environment and ``overrides`` (CLI flags), in that order."""
    _check_unknown(dict(os.environ), env_file)
    # Flags are passed under their ATB_ alias: bare field names are not accepted as aliases (see _alias).
    flags = {ENV_PREFIX + k.upper(): v for k, v in (overrides or {}).items() if v is not None}
    try:
        return Settings(_env_file=env_file, **flags)  # type: ignore[call-arg]
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        field = loc.removeprefix(ENV_PREFIX).lower()
        where = f"{field} ({loc})" if loc.startswith(ENV_PREFIX) else field
        # The value is never echoed: a secret pasted into the wrong variable would be shown (ADR 0013).
        raise SettingsError(f"invalid setting {where}: {err.get('msg', 'invalid value')}") from None
