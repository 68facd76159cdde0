"""One redaction rule for every URL and secret wherever it can surface (docs/adr/0013-secrets.md).

Pure string functions, no parsing library: they must work on URLs too malformed to parse, before any parsing
error is shown. The rule, for a URL ``scheme://userinfo@host:port/path?query``:

- the userinfo is everything up to the *last* ``@`` (an unencoded ``@`` in a password stays inside it); its
  password (after the first ``:``) becomes ``***``, the user name stays;
- with no ``@``, a ``:`` followed by something that is not a port number (``scheme://bob:S3cret/x``, a URL
  whose host is missing) hides everything after that ``:``;
- a query parameter named like a secret (``is_secret_name``) has its value replaced by ``***``;
- text that is not a URL at all, given where a URL was expected, is hidden whole.

``redact_text`` applies the rule to every URL inside free text (error messages, tracebacks, log records),
plus ``name=value`` / ``"name": "value"`` pairs named like secrets, plus any known secret values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

REDACTED = "***"

# A name is secret-like when it contains one of these (case-insensitive, ``-``/``_``/``.`` ignored).
_SECRET_WORDS = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "key", "auth", "credential", "signature",
    "cookie",
)  # fmt: skip
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# A URL inside free text: a scheme, ``://`` and everything up to white space or a quote, less the punctuation
# that ends a sentence or a clause ("... at postgresql://h/db: refused").
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?:[^\s\"'<>`]*[^\s\"'<>`:.,;)\]])?")
# The value of a secret-named query parameter: up to the next ``&name=``; ``&`` pieces without ``=`` after it
# are taken as part of the value (an unencoded ``&`` in a password).
_QUERY_VALUE_END = re.compile(r"&(?=[^&=]*=)")
# ``name=value``, ``name: value``, ``"name": "value"`` where the name is secret-like.
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (?P<name>[A-Za-z_][\w.\-]*)          # a name
    (?P<sep>["']?\s*[:=]\s*["']?)        # = or :, maybe quoted
    (?P<value>[^\s"',&;)}\]]+)           # the value, up to a delimiter
    """
)
_USER = re.compile(r"[^:@/?#]*")
_MIN_KNOWN = 4  # shorter known secrets are not replaced in free text (they would mangle ordinary words)


def is_secret_name(name: str) -> bool:
    """Whether a setting, query parameter or field called ``name`` holds a secret (``password``, ``sslpassword``,
    ``api_key``, ``token``, ``auth`` ...): over-redacting a harmless value is the cheaper mistake."""
    folded = re.sub(r"[\s_.\-]", "", unquote(name)).lower()
    return any(word in folded for word in _SECRET_WORDS)


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """``(userinfo, after)``: the userinfo runs to the last ``@`` (None: there is none)."""
    at = rest.rfind("@")
    if at < 0:
        return None, rest
    return rest[:at], rest[at + 1 :]


def _is_sqlite_path(scheme: str, rest: str) -> bool:
    """``sqlite:///path`` (or ``sqlite://``): a file path, whose ``@`` and ``:`` are not a userinfo. A SQLite
    URL with something between ``//`` and the path is malformed, and read as any other URL."""
    return scheme.lower().startswith("sqlite") and (rest == "" or rest.startswith("/") or rest.startswith("?"))


def _user_of(userinfo: str) -> str:
    """The user name: the userinfo up to its first ``:``, ``@``, ``/``, ``?`` or ``#``. Anything after it is
    hidden, so an ``@`` in a query value (which makes the userinfo run into the query) hides too much, never
    too little."""
    match = _USER.match(userinfo)
    return match.group(0) if match else ""


def _redact_query(query: str) -> str:
    out: list[str] = []
    pos = 0
    while pos <= len(query):
        match = _QUERY_VALUE_END.search(query, pos)
        end = match.start() if match else len(query)
        item = query[pos:end]
        name, sep, _value = item.partition("=")
        out.append(f"{name}={REDACTED}" if sep and is_secret_name(name) else item)
        if match is None:
            break
        pos = end + 1
    return "&".join(out)


def _redact_after_host(after: str) -> str:
    """``host:port/path?query`` with the secret query values hidden."""
    before_query, sep, query = after.partition("?")
    return before_query + (sep + _redact_query(query) if sep else "")


def _is_port(text: str) -> bool:
    return text == "" or text.isdigit()


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***``; a string that is not a URL
    (no ``scheme://``) is replaced whole. Never raises, never parses more than the rule above."""
    match = _SCHEME.match(url)
    if match is None:
        return REDACTED if url else url
    head, rest = match.group(0), url[match.end() :]
    if _is_sqlite_path(match.group(1), rest):  # a file path: no userinfo, only a query to look at
        return head + _redact_after_host(rest)
    userinfo, after = _split_userinfo(rest)
    if userinfo is not None:
        user = _user_of(userinfo)
        shown = user if user == userinfo else f"{user}:{REDACTED}"
        return f"{head}{shown}@{_redact_after_host(after)}"
    # No userinfo: a "port" that is not a number is probably a password whose host is missing (bob:S3cret/x).
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not authority.startswith("["):
        host, colon, port = authority.partition(":")
        if colon and not _is_port(port):
            return f"{head}{host}:{REDACTED}"
    return head + _redact_after_host(rest)


def url_secrets(url: str) -> list[str]:
    """The secret pieces of ``url`` as written and percent-decoded (its password, secret query values; the
    whole string when it is not a URL), to scrub from text that quotes them (a driver's error message)."""
    pieces: list[str] = []
    match = _SCHEME.match(url)
    if match is None:
        pieces.append(url)
    elif _is_sqlite_path(match.group(1), url[match.end() :]):
        pieces += _query_secrets(url.partition("?")[2])
    else:
        rest = url[match.end() :]
        userinfo, after = _split_userinfo(rest)
        if userinfo is not None:
            user = _user_of(userinfo)
            if user != userinfo:
                password = userinfo[len(user) :].removeprefix(":")
                pieces.append(password)
                pieces += password.split("@")  # what a parser that splits at the first @ would take apart
            pieces += _query_secrets(rest.partition("?")[2])  # the query as a parser reading to the first ? sees it
        else:
            authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
            _host, colon, port = authority.partition(":")
            if colon and not _is_port(port) and not authority.startswith("["):
                pieces.append(rest[rest.index(":") + 1 :])
                pieces.append(port)
        pieces += _query_secrets((after if userinfo is not None else rest).partition("?")[2])
    decoded = [unquote(p) for p in pieces]
    return sorted({p for p in (*pieces, *decoded) if p}, key=len, reverse=True)


def _query_secrets(query: str) -> list[str]:
    values: list[str] = []
    pos = 0
    while query and pos <= len(query):
        m = _QUERY_VALUE_END.search(query, pos)
        end = m.start() if m else len(query)
        name, eq, value = query[pos:end].partition("=")
        if eq and is_secret_name(name):
            values.append(value)
        if m is None:
            break
        pos = end + 1
    return values


def _redact_pair(match: re.Match[str]) -> str:
    if not is_secret_name(match.group("name")) or match.group("value").startswith(REDACTED):
        return match.group(0)
    return f"{match.group('name')}{match.group('sep')}{REDACTED}"


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and, for URL-valued ones, their pieces: ``url_secrets``), every
    URL's credentials (``redact_url``) and every secret-named ``name=value`` pair replaced by ``***``."""
    known: set[str] = set()
    for secret in secrets:
        if _SCHEME.match(secret):  # a URL is shown redacted (below), its secret pieces are hidden anywhere
            known.update(url_secrets(secret))
        elif secret:
            known.add(secret)
    for secret in sorted((s for s in known if len(s) >= _MIN_KNOWN), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return _SECRET_PAIR.sub(_redact_pair, text)


def redact_value(value: object) -> object:
    """A JSON-like value (dicts, lists, strings) with secret-named keys' values hidden and every string
    passed through ``redact_text``: for configuration that is saved or shown."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and is_secret_name(k) else redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


def redact_mapping(mapping: Mapping[str, object]) -> dict[str, object]:
    """``redact_value`` of a mapping (a saved session's configuration), as a dict."""
    return {k: REDACTED if is_secret_name(k) else redact_value(v) for k, v in mapping.items()}
