"""Composed strategies' files (docs/composition.md): every malformed file is refused with one line naming the
file and the line (syntax) or the key path (values); a valid one becomes a strategy class that satisfies the API,
with the declared numbers as parameters."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from adapters.strategies.toml_strategy import MAX_TOML_BYTES, load_toml_strategy
from application.composition import CompositionError, key_path
from domain.model.errors import InvalidParameter
from domain.risk.limits import merge_layers
from domain.strategies.builtin.ensemble_weighted import EnsembleWeighted
from domain.strategies.discovery import problems
from domain.strategies.registry import USER, Entry, StrategyLoadError, builtin_catalog
from domain.strategies.strategy import Context, Strategy
from tests.unit.domain.helpers import random_walk_series

HEAD = '[strategy]\nname = "mine"\n'
TWO = '[[signals]]\ngenerator = "ema_crossover"\n[[signals]]\ngenerator = "momentum"\n'


def _load(tmp_path: Path, text: str | bytes, name: str = "my.toml") -> type[Strategy]:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_toml_strategy(path)


def _error(tmp_path: Path, text: str | bytes) -> str:
    with pytest.raises(StrategyLoadError) as caught:
        _load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "my.toml"))
    return message.removeprefix(str(tmp_path / "my.toml"))


# -- syntax and encoding: the line tomllib names -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + TWO + "[vote]\nthreshold = 0.5\n[vote]\n", ":9: not valid TOML: Cannot declare ('vote',) twice"),
        (HEAD + "[[signals]\n", ":3: not valid TOML: "),
        (HEAD + "threshold = \n", ":3: not valid TOML: Invalid value"),
        (HEAD + 'description = "unterminated\n', ":3: not valid TOML: "),
        (HEAD + TWO + "[vote]\nthreshold = 0.5 0.6\n", ":8: not valid TOML: "),
    ],
)
def test_malformed_toml_names_the_line(tmp_path: Path, text: str, expected: str) -> None:
    assert _error(tmp_path, text).startswith(expected)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    assert _error(tmp_path, (HEAD + "[vote]\n# caf\xe9\n").encode("latin-1")) == ":4: not UTF-8 text (byte 0xe9)"


def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    text = HEAD + TWO + "#" * MAX_TOML_BYTES + "\n"
    assert _error(tmp_path, text) == ": larger than 256 KB; a composition is a short file"


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StrategyLoadError, match=r"nope\.toml: cannot read it: No such file"):
        load_toml_strategy(tmp_path / "nope.toml")


# -- values: the key path -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TWO, ": strategy: required, missing"),
        ('[strategy]\nname = "Mine!"\n' + TWO, ":2: strategy.name: must be lowercase letters, digits and _"),
        ('[strategy]\nname = "ensemble_weighted"\n' + TWO, ":2: strategy.name: 'ensemble_weighted' is a built-in"),
        ('[strategy]\nname = "mine"\nversion = "1.0"\n' + TWO, ":3: strategy.version: must look like 1.0.0"),
        (HEAD, ": signals: required, missing"),
        ("signals = []\n" + HEAD, ":1: signals: List should have at least 1 item"),
        (HEAD + TWO + "[colour]\n", ":7: colour: unknown key; valid: strategy, signals, vote, stop, exits, sizing"),
        (HEAD + TWO + "[vote]\nthreshhold = 0.6\n", ":8: vote.threshhold: unknown key; valid: threshold, short"),
        (HEAD + TWO + '[vote]\nthreshold = "high"\n', ":8: vote.threshold: Input should be a valid number"),
        (HEAD + TWO + "[vote]\nthreshold = 1.5\n", ":8: vote.threshold: Input should be less than or equal to 1"),
        (HEAD + TWO + "[vote]\nthreshold = nan\n", ":8: vote.threshold: Input should be a finite number"),
        (HEAD + TWO + "[vote]\nshort = 1\n", ":8: vote.short: Input should be a valid boolean"),
        (HEAD + '[[signals]]\ngenerator = "rsi"\n', ":4: signals[0].generator: unknown signal generator 'rsi'"),
        (HEAD + '[[signals]]\ngenerator = "ema_crossover"\nwieght = 2\n', ":5: signals[0].wieght: unknown key"),
        (
            HEAD + TWO + '[[signals]]\ngenerator = "momentum"\nweight = 1e6\n',
            ":9: signals[2].weight: Input should be less than or equal to 1000",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "momentum"\nparams = { speed = 3 }\n',
            ":5: signals[0].params.speed: unknown setting of momentum; valid: period, threshold",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "ema_crossover"\nparams = { fast = "quick" }\n',
            ":5: signals[0].params.fast: parameter fast: 'quick' is not a valid int",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "ema_crossover"\nparams = { fast = 2.5 }\n',
            ":5: signals[0].params.fast: parameter fast: 2.5 is not a valid int",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "ema_crossover"\nparams = { fast = 300 }\n',
            ":5: signals[0].params: fast (300) must be at least 1 and below slow (200)",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "ema_crossover"\nparams = { fast = 2000, slow = 3000 }\n',
            ":5: signals[0].params.fast: default of parameter ema_crossover_fast: 2000 is above its upper bound 1000",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "momentum"\nparams = { short = true }\n',
            ":5: signals[0].params.short: short is the vote's: set it in [vote]",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "ml"\n[[signals]]\ngenerator = "ml"\n',
            ":6: signals[1].generator: one ml member at most",
        ),
        (
            HEAD + '[[signals]]\ngenerator = "ml"\nparams = { entry = 0.001, exit = 0.002 }\n',
            ":5: signals[0].params: exit must be in (-entry, entry]",
        ),
        (HEAD + TWO + '[model]\ntype = "basic"\n', ":7: model: only a composition with an ml member reads a model"),
        (HEAD + '[[signals]]\ngenerator = "ml"\n[model]\ntype = "lstm"\n', ":6: model.type: Input should be 'basic'"),
        (HEAD + '[[signals]]\ngenerator = "momentum"\nweight = 0\n', ":3: signals: the weights must not all be zero"),
        (HEAD + TWO + "[stop]\natr_period = 0\n", ":8: stop.atr_period: Input should be greater than or equal to 1"),
        (HEAD + TWO + "[stop]\npct_stop = 1\n", ":8: stop.pct_stop: Input should be less than 1"),
        (
            HEAD + TWO + "[exits]\ntake_profits = [[0.1, 0.6], [0.2, 0.6]]\n",
            ":7: exits: take-profit fractions add up to 1.2, more than the whole position",
        ),
        (
            HEAD + TWO + "[exits]\ntake_profits = [[0.1]]\n",
            ":8: exits.take_profits[0]: List should have at least 2 items",
        ),
        (HEAD + TWO + '[sizing]\nsizer = "martingale"\n', ":8: sizing.sizer: unknown sizer 'martingale'; valid: "),
        (HEAD + TWO + '[sizing]\nsizer = "fixed_risk"\nsizer_params = { risk = -1 }\n', ":9: sizing.sizer_params: "),
        (
            HEAD + TWO + "[sizing]\nsizer_params = { risk = 0.01 }\n",
            ":8: sizing.sizer_params: parameters of which sizer? set sizing.sizer too",
        ),
        (HEAD + TWO + "[sizing]\nsize = 2\n", ":8: sizing.size: 2 is above 1 and above the leverage"),
        (HEAD + TWO + "[sizing]\nleverage = 500\n", ":8: sizing.leverage: Input should be less than or equal to 100"),
        (HEAD + TWO + "[risk]\nmax_postion = 0.3\n", ":8: risk.max_postion: unknown risk setting max_postion; valid: "),
        (HEAD + TWO + '[risk]\nmax_position = "lots"\n', ":8: risk.max_position: "),
    ],
)
def test_each_wrong_value_is_one_line_naming_the_line_and_the_key_path(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert _error(tmp_path, text).startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + '[[signals]]\ngenerator = "momentum"\nparams = { period = [72] }\n',
            ":5: signals[0].params.period: must be a number, true/false or text, got [72]",
        ),
        (
            HEAD + TWO + '[sizing]\nsizer = "fixed_risk"\nsizer_params = { risk_per_trade = true }\n',
            ":9: sizing.sizer_params.risk_per_trade: must be a number or text, got True",
        ),
        ("signals = { generator = 'momentum' }\n" + HEAD, ":1: signals: must be an array of tables: one [[signals]]"),
        ('strategy = "mine"\n' + TWO, ":1: strategy: must be a table, got 'mine'"),
        # other layouts: a sub-table of an array's table, and tables written inline
        (
            HEAD + TWO + '[[signals]]\ngenerator = "ema_crossover"\n[signals.params]\nslow = 20\nfast = 30\n',
            ":9: signals[2].params: fast (30) must be at least 1 and below slow (20)",
        ),
        (
            HEAD + TWO + '[[signals]]\ngenerator = "ema_crossover"\n[signals.params]\nslow = 20\nfast = "x"\n',
            ":11: signals[2].params.fast: parameter fast: 'x' is not a valid int",
        ),
        ("vote = { threshold = 3 }\n" + HEAD + TWO, ":1: vote.threshold: Input should be less than or equal to 1"),
    ],
)
def test_values_of_other_types_and_layouts(tmp_path: Path, text: str, expected: str) -> None:
    assert _error(tmp_path, text).startswith(expected)


def test_the_error_is_a_composition_error_carrying_the_path(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as caught:
        _load(tmp_path, HEAD + TWO + "[vote]\nthreshold = 2\n")
    assert caught.value.path == "vote.threshold" and isinstance(caught.value, InvalidParameter)
    assert key_path(("signals", 1, "params", "fast")) == "signals[1].params.fast"


# -- a valid file ---------------------------------------------------------------------------------------------
FULL = (
    '[strategy]\nname = "full"\nversion = "2.1.0"\ndescription = "everything declared"\n'
    '[[signals]]\ngenerator = "ema_crossover"\nweight = 2\nparams = { fast = 20, slow = 100 }\n'
    '[[signals]]\ngenerator = "momentum"\nparams = { period = 48 }\n'
    '[[signals]]\ngenerator = "momentum"\nweight = -0.5\nparams = { period = 240, threshold = 0.1 }\n'
    '[[signals]]\ngenerator = "ml"\nweight = 1.5\nparams = { entry = 0.002, smooth = 3 }\n'
    "[vote]\nthreshold = 0.4\nshort = true\n"
    "[stop]\natr_period = 21\natr_stop = 2\npct_stop = 0.05\n"
    "[exits]\ntrailing_atr = 3\nbreak_even = 0.04\ntake_profits = [[0.1, 0.5], [0.25, 0.25]]\n"
    '[sizing]\nsize = 1.5\nsizer = "fixed_risk"\nsizer_params = { risk_per_trade = 0.01 }\nleverage = 2\n'
    '[risk]\nmax_position = 0.4\nmax_drawdown = 0.2\nregime_caps = "down/high:0.2"\n'
    '[model]\ntype = "sentiment"\n'
)


def test_a_valid_file_is_a_strategy_that_satisfies_the_api(tmp_path: Path) -> None:
    cls = _load(tmp_path, FULL)
    assert problems(cls) == []
    assert (cls.name, cls.version, cls.description) == ("full", "2.1.0", "everything declared")
    strategy = cls()
    assert strategy.model_type == "sentiment"
    assert strategy.warmup == 240  # the longest member's
    extras = strategy.extras()
    assert (extras.sizer, dict(extras.sizer_params), extras.leverage) == ("fixed_risk", {"risk_per_trade": 0.01}, 2.0)
    assert merge_layers(extras.risk).max_position == 0.4
    p = strategy.params
    assert (p["threshold"], p["short"], p["atr_period"], p["pct_stop"], p["size"]) == (0.4, True, 21, 0.05, 1.5)
    assert (p["ema_crossover_fast"], p["momentum_1_period"], p["momentum_2_period"], p["momentum_2_weight"]) == (
        20, 48, 240, -0.5,
    )  # fmt: skip
    assert (p["ml_entry"], p["ml_exit"], p["ml_smooth"], p["model"]) == (0.002, 0.0, 3, "sentiment")
    assert cls.param_paths["momentum_2_threshold"] == "signals[2].params.threshold"
    # the catalog takes it like any user strategy
    catalog = builtin_catalog().with_entries([Entry(cls, USER, str(tmp_path / "my.toml"), "x")])
    assert "full" in catalog and catalog.create("full", {"threshold": "0.6"}).params["threshold"] == 0.6


def test_signals_carry_the_declared_stop_exits_and_size(tmp_path: Path) -> None:
    candles = random_walk_series(3000, seed=3)
    strategy = _load(tmp_path, FULL)()
    predictions = np.sin(np.arange(3000) / 40) * 0.004
    signals = strategy.signals(candles, Context(predictions=predictions))
    assert signals.exits.take_profits == ((0.1, 0.5), (0.25, 0.25))
    assert (signals.exits.trailing_atr, signals.exits.break_even) == (3.0, 0.04)
    assert np.all(signals.size == 1.5) and signals.warmup == 240
    assert signals.long_entry.any() and signals.short_entry.any()
    # the stop is the nearer of 2 ATRs and 5 % of the close
    assert signals.atr is not None
    expected = np.fmin(signals.atr * 2, candles.close * 0.05)
    np.testing.assert_array_equal(signals.stop_distance, expected)
    with pytest.raises(InvalidParameter, match="predictions"):
        strategy.signals(candles, Context())


def test_parameters_are_checked_like_any_strategy(tmp_path: Path) -> None:
    cls = _load(tmp_path, FULL)
    with pytest.raises(InvalidParameter, match="ema_crossover: fast \\(150\\) must be at least 1 and below slow"):
        cls(ema_crossover_fast=150)
    with pytest.raises(InvalidParameter, match=r"above its upper bound 1\.0"):
        cls(threshold="1.5")
    with pytest.raises(InvalidParameter, match="not one of basic, sentiment"):
        cls(model="lstm")
    with pytest.raises(InvalidParameter, match="must not all be zero"):
        _load(tmp_path, HEAD + TWO, "two.toml")(ema_crossover_weight=0, momentum_weight=0)
    assert cls(ema_crossover_fast="30").members()[0][0].fast == 30


def test_the_documented_example_is_the_shipped_file() -> None:
    root = Path(__file__).resolve().parents[3]
    doc = (root / "docs" / "composition.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    shipped = root / "docs" / "examples" / "ensemble.toml"
    assert tomllib.loads(block) == tomllib.loads(shipped.read_text())
    assert problems(load_toml_strategy(shipped)) == []


def test_without_a_model_member_there_is_no_model_parameter(tmp_path: Path) -> None:
    cls = _load(tmp_path, HEAD + TWO)
    assert "model" not in cls.parameters and cls().model_type is None
    assert cls().extras() == EnsembleWeighted().extras()
    assert set(cls.parameters) >= {"threshold", "short", "atr_period", "atr_stop", "size", "ema_crossover_weight"}
