"""Exchange rules per symbol: the bundled table, inference for other symbols, the CLI overrides, and the record
of the rules used in the text report, the JSON and the saved session (docs/instruments.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.files import BundledInstruments
from adapters.files.instruments import bundled_table
from application.ports.errors import ConfigurationError, UnknownSymbolError
from application.ports.instruments import BUNDLED, INFERRED
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from application.use_cases.save_backtest import SaveBacktest
from application.use_cases.sessions import ShowSession
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.cli.main import main
from entrypoints.cli.render import report_dict
from entrypoints.container import build_container, simulator
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.repositories import InMemoryStore, InMemoryUnitOfWork

REQUIRED = {"BTCUSDT", "ETHUSDT", "XRPUSDT", "BNBUSDT", "SOLUSDT", "ADAUSDT", "DOGEUSDT", "SHIBUSDT", "PEPEUSDT"}


def test_the_table_ships_as_package_data_and_is_declared_in_pyproject() -> None:
    import tomllib

    names = {p.name for p in resources.files("adapters.files").joinpath("bundled").iterdir()}
    assert "instruments.json" in names
    root = Path(__file__).resolve().parents[3]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "bundled/instruments.json" in declared["adapters.files"]


def test_every_row_is_a_valid_rule_set_with_its_source() -> None:
    rows = bundled_table()["symbols"]
    assert set(rows) >= REQUIRED and len(rows) >= 20
    for symbol, row in rows.items():
        rules = BundledInstruments().instrument(Symbol.parse(symbol)).instrument
        assert rules.tick_size > 0 and rules.step_size > 0 and rules.min_notional >= 0, symbol
        assert row["source"], symbol


def test_a_bundled_symbol_gets_its_row_and_btc_gets_binance_s_rules() -> None:
    found = BundledInstruments().instrument(Symbol.parse("BTCUSDT"))
    assert found.source == BUNDLED
    ins = found.instrument
    assert (ins.tick_size, ins.step_size, ins.min_notional) == (Decimal("0.01"), Decimal("0.00001"), Decimal(5))
    shib = BundledInstruments().instrument(Symbol.parse("SHIBUSDT")).instrument
    assert shib.tick_size == Decimal("0.00000001")


def test_a_symbol_not_in_the_table_needs_candles_and_is_inferred_from_them() -> None:
    table = BundledInstruments()
    with pytest.raises(UnknownSymbolError, match="ZZZUSDT"):
        table.instrument(Symbol.parse("ZZZUSDT"))
    candles = random_walk(500, start=0.3, symbol="ZZZUSDT")
    found = table.instrument(candles.symbol, candles)
    assert found.source == INFERRED and "tick" in found.detail
    assert found.instrument.tick_size < Decimal("0.001")  # finer than the walk's prices need


def test_the_simulator_without_rules_uses_the_table_then_the_candles() -> None:
    from domain.model.market import MarketFrame

    btc, foo = random_walk(100, symbol="BTCUSDT"), random_walk(100, symbol="FOOUSDT", start=0.002)
    broker, _ = simulator(MarketFrame.align([btc, foo]), Decimal(1000), build_simulation())
    assert broker.instrument(btc.symbol).min_notional == Decimal(5)
    assert broker.instrument(foo.symbol).tick_size < Decimal("0.00001")


def build_simulation() -> Any:
    from application.ports.simulation import SimulationSettings

    return SimulationSettings()


def request(symbol: str = "FOOUSDT", **kw: Any) -> BacktestRequest:
    return BacktestRequest("ema_cross", (Symbol.parse(symbol),), Timeframe.H1, Decimal(10_000), **kw)


def test_overrides_replace_the_rules_they_name_and_are_recorded() -> None:
    candles = random_walk(600, start=0.3, symbol="FOOUSDT")
    use_case = RunBacktest(InMemoryMarketData(candles), simulator, instruments=BundledInstruments())
    report = use_case(request(instrument_overrides={"tick_size": Decimal("0.001")}))
    rules = report.instruments["FOOUSDT"]
    assert rules["tick_size"] == "0.001" and rules["overridden"] == ["tick_size"]
    assert rules["source"] == INFERRED  # the step and the minimum still came from the candles
    assert any("inferred from the candles" in note for note in report.notes)
    every = {"tick_size": Decimal("0.001"), "step_size": Decimal("0.1"), "min_notional": Decimal(1)}
    report = use_case(request(instrument_overrides=every))
    assert report.instruments["FOOUSDT"]["source"] == "overridden"
    assert not any("inferred" in note for note in report.notes)


@pytest.mark.parametrize("value", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_a_rule_set_by_hand_must_be_positive_and_finite(value: Decimal) -> None:
    with pytest.raises(ConfigurationError, match="must be a positive number"):
        request(instrument_overrides={"step_size": value})


def test_rules_set_by_hand_apply_to_one_symbol() -> None:
    with pytest.raises(ConfigurationError, match="one symbol"):
        BacktestRequest(
            "ema_cross", (Symbol.parse("BTCUSDT"), Symbol.parse("ETHUSDT")), Timeframe.H1, Decimal(10_000),
            instrument_overrides={"tick_size": Decimal("0.1")},
        )  # fmt: skip


def test_the_json_and_the_saved_session_record_the_rules() -> None:
    candles = random_walk(800, start=0.05, symbol="FOOUSDT")
    report = RunBacktest(InMemoryMarketData(candles), simulator, instruments=BundledInstruments())(
        request(instrument_overrides={"min_notional": Decimal(2)})
    )
    data = json.loads(json.dumps(report_dict(report)))
    assert data["instruments"]["FOOUSDT"]["min_notional"] == "2"
    assert data["instruments"]["FOOUSDT"]["overridden"] == ["min_notional"]
    store = InMemoryStore()
    session_id = SaveBacktest(lambda: InMemoryUnitOfWork(store))(report)
    config = ShowSession(lambda: InMemoryUnitOfWork(store))(session_id).session.config
    assert config["instruments"] == data["instruments"]


def test_the_container_wires_the_table_into_the_backtest() -> None:
    container = build_container({"mode": "backtest"})
    assert isinstance(container.instruments(), BundledInstruments)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("flag", ["--tick-size", "--step-size", "--min-notional"])
@pytest.mark.parametrize("value", ["0", "-0.01", "nan", "inf", "abc"])
def test_the_cli_refuses_a_bad_rule_in_one_line(capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    code, out, err = _cli(capsys, "backtest", "--strategy", "ema_cross", "--symbol", "BTCUSDT", flag, value)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and flag in err


def test_the_cli_prints_sub_cent_prices_on_their_tick(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A SHIB-like file: the rules are printed, and the open position's price shows its 8 decimals."""
    rng = np.random.default_rng(4)
    close = np.round(0.00001234 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, 300))), 8)
    path = tmp_path / "FOOUSDT-1h.csv"
    lines = ["open_time_ms,open,high,low,close,volume"]
    for i, c in enumerate(close):
        lines.append(f"{1_600_000_000_000 - 1_600_000_000_000 % 3_600_000 + i * 3_600_000},{c:.8f},{c:.8f},"
                     f"{c:.8f},{c:.8f},{1000 + i}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    code, out, err = _cli(capsys, "backtest", "--strategy", "ema_cross", "--data", str(path), "--symbol", "FOOUSDT",
                          "--param", "stop_loss=0")  # fmt: skip
    assert code == 0, err
    assert "FOOUSDT exchange rules: tick 0.00000001 · step 1 · min notional 5 (inferred)" in out
    (position,) = [line for line in out.splitlines() if line.startswith("open position at the end")]
    price = position.split(" from ")[1].split(" ")[0]
    assert len(price.split(".")[1]) == 8 and 1e-6 < float(price) < 1e-4  # was "0.00" on BTC's 2 decimals


def test_the_html_report_prints_prices_on_the_tick(tmp_path: Path) -> None:
    """Sub-cent trades show their 8 decimals in the HTML trade list (a size-based format gave 1.234e-05)."""
    import re

    from entrypoints.reports import write_html_report

    candles = random_walk(1500, start=0.00001234, symbol="FOOUSDT")
    report = RunBacktest(InMemoryMarketData(candles), simulator, instruments=BundledInstruments())(
        request(instrument_overrides={"tick_size": Decimal("0.00000001")})
    )
    assert report.trades
    path = tmp_path / "report.html"
    write_html_report(report, path)
    page = path.read_text()
    first = report.trades[0]
    assert f'<td class="num">{first.entry_price:.8f}</td>' in page
    assert not re.search(r'<td class="num">\d\.\d+e-0\d</td>', page)


def test_the_html_configuration_lists_the_rules(tmp_path: Path) -> None:
    from entrypoints.reports import write_html_report

    candles = random_walk(600, start=0.3, symbol="FOOUSDT")
    report = RunBacktest(InMemoryMarketData(candles), simulator, instruments=BundledInstruments())(request())
    path = tmp_path / "report.html"
    write_html_report(report, path)
    rules = report.instruments["FOOUSDT"]
    assert (
        f"<td>exchange rules (FOOUSDT)</td><td><code>tick {rules['tick_size']} · step {rules['step_size']} · "
        f"min notional {rules['min_notional']} (inferred)</code></td>"
    ) in path.read_text()
