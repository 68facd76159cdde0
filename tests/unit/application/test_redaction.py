"""The one redaction rule (application/redaction.py): every URL shape, free text, names, saved configuration.

Each URL is built here from its parts, so what must disappear (the password, the secret query values) and what
must stay readable (scheme, user, host, port, database, harmless parameters) is known by construction.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.redaction import (
    REDACTED,
    is_secret_name,
    redact_mapping,
    redact_text,
    redact_url,
    url_secrets,
)

PG = "postgresql+psycopg2"
MARK = "Zq9"  # every secret below contains it; nothing else does


@pytest.mark.parametrize(
    ("url", "visible"),
    [
        # password in the userinfo
        (f"{PG}://bob:{MARK}pw@db.example:5432/atb", ["bob:", "@db.example:5432/atb"]),
        # passwords and secret-named values in the query
        (f"{PG}://bob@127.0.0.1:5432/atb?password={MARK}pw", ["bob@127.0.0.1:5432/atb?password="]),
        (f"{PG}://bob@h/atb?sslmode=require&sslpassword={MARK}a&x=1", ["sslmode=require", "&x=1", "sslpassword="]),
        (f"{PG}://h/atb?token={MARK}t&api_key={MARK}k&Auth={MARK}u&pwd={MARK}p&passwd={MARK}w", ["h/atb?token="]),
        (f"{PG}://h/atb?client_secret={MARK}s&application_name=me", ["application_name=me"]),
        (f"{PG}://h/atb?password={MARK}a&{MARK}b&sslmode=disable", ["sslmode=disable"]),  # an unencoded & in it
        (f"{PG}://bob@h/atb?password={MARK}@y.com", ["bob"]),  # an @ in a query value
        (f"{PG}://bob@h/atb?password={MARK}:x@y.com", ["bob"]),
        (f"{PG}://me@corp:{MARK}pw@h/atb", ["me:", "@h/atb"]),  # an @ in the user name
        # no host: the "port" is the password
        (f"{PG}://bob:{MARK}pw/x", [f"{PG}://bob:"]),
        (f"{PG}://bob:{MARK}a/{MARK}b?c=1", [f"{PG}://bob:"]),
        # a port that is not a number (not a secret, but the password before it is)
        (f"{PG}://bob:{MARK}pw@127.0.0.1:abc/x", ["@127.0.0.1:abc/x"]),
        # unencoded @ : / ? # in the password: the userinfo runs to the last @
        (f"{PG}://bob:{MARK}a@{MARK}b@127.0.0.1:1/x", ["bob:", "@127.0.0.1:1/x"]),
        (f"{PG}://bob:{MARK}a:{MARK}b/{MARK}c@127.0.0.1:1/x", ["@127.0.0.1:1/x"]),
        (f"{PG}://bob:{MARK}a?{MARK}b#{MARK}c@h:1/x", ["@h:1/x"]),
        # percent-encoded password
        (f"{PG}://bob:{quote(MARK + '@/:x', safe='')}@h/x", ["bob:", "@h/x"]),
        # IPv6 hosts
        (f"{PG}://bob:{MARK}pw@[::1]:5432/x", ["@[::1]:5432/x"]),
        (f"{PG}://[::1]:5432/x?password={MARK}pw", ["[::1]:5432/x?password="]),
        # SQLite: a path (its @ and : are not userinfo), a query
        (f"sqlite:////tmp/me@home:x/atb.db?password={MARK}pw", ["sqlite:////tmp/me@home:x/atb.db?password="]),
        (f"sqlite://bob:{MARK}pw@h/x.db", ["sqlite://bob:", "@h/x.db"]),  # malformed: read as any URL
        # a repeated secret parameter
        (f"{PG}://h/x?password=a&password={MARK}b", ["h/x?password=***&password=***"]),
    ],
)
def test_a_url_loses_its_secrets_and_keeps_the_rest(url: str, visible: list[str]) -> None:
    shown = redact_url(url)
    assert MARK not in shown
    assert REDACTED in shown
    for part in visible:
        assert part in shown
    assert redact_url(shown) == shown  # idempotent: showing it again changes nothing
    assert MARK not in redact_text(f"error at {url}: refused")


@pytest.mark.parametrize(
    "url",
    ["sqlite:////tmp/atb.db", f"{PG}://bob@db.example:5432/atb", f"{PG}://bob@h/atb?sslmode=require", "sqlite://"],
)
def test_a_url_without_secrets_is_shown_as_written(url: str) -> None:
    assert redact_url(url) == url


@pytest.mark.parametrize("text", [f"{MARK}-garbage", f"host=h password {MARK}", "/var/lib/atb.db", f"{MARK}:x@y"])
def test_what_is_not_a_url_is_hidden_whole(text: str) -> None:
    assert redact_url(text) == REDACTED


def test_url_secrets_are_the_pieces_as_written_and_decoded() -> None:
    encoded = quote(f"{MARK}a@b", safe="")
    pieces = url_secrets(f"{PG}://bob:{encoded}@h/x?sslpassword={MARK}s&sslmode=require")
    assert encoded in pieces and f"{MARK}a@b" in pieces and f"{MARK}s" in pieces
    assert "require" not in pieces and "bob" not in pieces and "h" not in pieces
    assert url_secrets(f"{MARK}garbage") == [f"{MARK}garbage"]


_SPECIAL = st.text(alphabet="abcXYZ019@:/?#&=%+ ;'\"!$*", min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(password=_SPECIAL, query_value=_SPECIAL.filter(lambda v: "&" not in v))
def test_any_password_is_hidden(password: str, query_value: str) -> None:
    secret = MARK + password
    shown = redact_url(f"{PG}://bob:{secret}@db.example:5432/atb?sslmode=require")
    assert MARK not in shown and "db.example:5432/atb" in shown
    shown = redact_url(f"{PG}://bob@db.example:5432/atb?sslmode=require&password={MARK}{query_value}")
    assert MARK not in shown
    if "@" not in query_value:  # an @ in the query makes the userinfo run into it: hidden too, not shown
        assert "bob@db.example:5432/atb?sslmode=require" in shown
    shown = redact_url(f"{PG}://bob:{secret}")  # no host at all
    assert MARK not in shown


@pytest.mark.parametrize(
    "name",
    ["password", "sslpassword", "PASSWD", "pwd", "api_key", "apiKey", "API-KEY", "secret", "client_secret",
     "token", "access_token", "auth", "Authorization", "passphrase", "sslkey", "ATB_BINANCE_API_SECRET"],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["host", "port", "sslmode", "application_name", "symbol", "timeframe", "user"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_free_text_pairs_known_values_and_urls() -> None:
    text = (
        f"failed: postgresql://u:{MARK}1@h/db, password={MARK}2 'token': '{MARK}3' api_key={MARK}4&symbol=BTCUSDT "
        f"PASSWORD: {MARK}5 and plain {MARK}6 and mysql://h/x?sslpassword={MARK}7"
    )
    out = redact_text(text, [f"{MARK}6", f"{PG}://x:{MARK}secretpw@h/db"])
    assert MARK not in out
    assert "symbol=BTCUSDT" in out and "postgresql://u:***@h/db" in out
    # a URL-valued known secret hides its pieces wherever they are quoted, the URL itself is shown redacted
    assert MARK not in redact_text(f"could not connect with {MARK}secretpw", [f"{PG}://x:{MARK}secretpw@h/db"])


@pytest.mark.parametrize("end", [": refused", ".", ", then", ")", "; next"])
@pytest.mark.parametrize("query", ["token={}", "a=1&token={}", "password=b&password={}"])
def test_punctuation_after_a_url_in_text_stays(end: str, query: str) -> None:
    text = f"error at (postgresql://h/db?{query.format(MARK + 'x')}{end}"
    out = redact_text(text)
    assert MARK not in out
    assert out.endswith(f"=***{end}") and out.startswith("error at (postgresql://h/db?")


def test_free_text_without_secrets_is_unchanged() -> None:
    text = "unknown strategy 'x'; --risk max_drawdown=0.3 at sqlite:////tmp/atb.db line 4: bad value"
    assert redact_text(text) == text


def test_saved_configuration() -> None:
    config = {
        "request": {"params": {"fast": "12", "api_key": f"{MARK}k"}, "strategy": "ema_cross"},
        "notes": [f"data from https://user:{MARK}p@example.com/x.csv", "plain note"],
        "token": f"{MARK}t",
        "warmup_bars_used": 50,
    }
    out = redact_mapping(config)
    assert MARK not in repr(out)
    assert out["request"] == {"params": {"fast": "12", "api_key": REDACTED}, "strategy": "ema_cross"}
    assert out["warmup_bars_used"] == 50 and out["notes"][1] == "plain note"
