"""The one naming rule (ADR 0015): what a name that becomes a path may be, and session ids."""

from __future__ import annotations

import string

import pytest

from application.names import (
    RESERVED,
    SESSION_ID_MAX,
    InvalidName,
    check_name,
    check_session_id,
    check_symbol,
    is_name,
    shown,
)
from application.ports.errors import ApplicationError
from application.ports.models import ModelRef, TrainingParams
from application.use_cases.models import check_ref, delete_model, rollback_model
from application.use_cases.train_model import TrainModel, TrainRequest
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

GOOD = ["a", "A", "0", "2026-11-25_15h_v1", "v1.2", "basic", "sentiment", "x" * 64, "a..b", "a-", "a_"]
# Every way out of a folder or into trouble a name could take.
BAD = ["", ".", "..", ".hidden", "../x", "..\\x", "/abs", "a/b", "a\\b", "%2e%2e", "%2F", "a\x00b", "a\nb", "a\rb",
       "a\tb", " a", "a ", "-a", "_a", "x" * 65, "é", "ａ", "a:b", "~", "~root", "a*", "$HOME", *RESERVED]  # fmt: skip


def _oracle(name: str) -> bool:
    """The rule written another way: ASCII letters and digits first, then letters, digits, '.', '_', '-'."""
    allowed = set(string.ascii_letters + string.digits + "._-")
    return (
        1 <= len(name) <= 64
        and name[0] in string.ascii_letters + string.digits
        and set(name) <= allowed
        and name not in RESERVED
    )


@pytest.mark.parametrize("name", GOOD)
def test_a_good_name_passes(name: str) -> None:
    assert _oracle(name)
    assert is_name(name) and check_name("version", name) == name


@pytest.mark.parametrize("name", BAD)
def test_a_bad_name_is_one_line_naming_what_it_is(name: str) -> None:
    assert not _oracle(name)
    assert not is_name(name)
    with pytest.raises(InvalidName) as caught:
        check_name("version", name)
    message = str(caught.value)
    assert isinstance(caught.value, ApplicationError)  # a user error: one line, exit 1
    assert message.startswith("invalid version") and "\n" not in message and "\x00" not in message
    assert len(message) < 200


def test_every_printable_ascii_character_follows_the_oracle() -> None:
    for c in map(chr, range(128)):
        for name in (f"a{c}", f"{c}a", c):
            assert is_name(name) == _oracle(name), repr(name)


def test_the_registry_files_are_reserved() -> None:
    from adapters.registry.file_registry import HISTORY, LATEST

    assert {LATEST, HISTORY} <= set(RESERVED)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "1INCHUSDT", "A"])
def test_a_symbol_is_upper_case_letters_and_digits(symbol: str) -> None:
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize("symbol", ["btcusdt", "BTC-USDT", "BTC/USDT", "..", "../X", "", "Ä", "A" * 33, "A\x00"])
def test_anything_else_is_not_a_symbol(symbol: str) -> None:
    with pytest.raises(InvalidName, match="invalid symbol"):
        check_symbol(symbol)


def test_what_a_domain_symbol_prints_is_a_symbol_name() -> None:
    for text in ("BTC-USDT", "eth/usdt", "SOLUSDT"):
        assert check_symbol(str(Symbol.parse(text))) == str(Symbol.parse(text))


def test_a_long_name_is_quoted_cut_short() -> None:
    text = shown("A" * 10_000)
    assert len(text) < 80 and "10000 characters" in text
    assert shown("a\nb") == "'a\\nb'"


@pytest.mark.parametrize("good", [1, 2, SESSION_ID_MAX])
def test_a_session_id_is_a_64_bit_key_from_1(good: int) -> None:
    assert check_session_id(good) == good


@pytest.mark.parametrize("bad", [0, -1, SESSION_ID_MAX + 1, 10**30, True, "1", 1.0])
def test_anything_else_is_not_a_session_id(bad: object) -> None:
    with pytest.raises(InvalidName, match="session id"):
        check_session_id(bad)  # type: ignore[arg-type]


class _Untouchable:
    """A registry, market data or factory that fails the test when anything is asked of it."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"touched: {name}")

    def __call__(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("called")


@pytest.mark.parametrize("version", ["../x", "..", "/abs", "latest", "a/b"])
def test_training_refuses_a_bad_version_before_reading_any_data(version: str) -> None:
    nothing = _Untouchable()
    use_case = TrainModel(nothing, nothing, nothing, nothing, nothing)  # type: ignore[arg-type]
    request = TrainRequest(Symbol.parse("BTCUSDT"), "basic", Timeframe.H1, TrainingParams(), version=version)
    with pytest.raises(InvalidName, match="invalid version"):
        use_case(request)


@pytest.mark.parametrize(
    "ref", [ModelRef("..", "basic", "v1"), ModelRef("BTCUSDT", "../x", "v1"), ModelRef("BTCUSDT", "basic", "../v1")]
)
def test_the_model_use_cases_refuse_a_bad_name_before_asking_the_registry(ref: ModelRef) -> None:
    nothing = _Untouchable()
    with pytest.raises(InvalidName):
        check_ref(ref)
    with pytest.raises(InvalidName):
        delete_model(nothing, ref)  # type: ignore[arg-type]
    if ref.version == "v1":
        with pytest.raises(InvalidName):
            rollback_model(nothing, ref.symbol, ref.model_type)  # type: ignore[arg-type]
