"""Exchange rules from the table bundled with atb (``bundled/instruments.json``: Binance spot filters), and
from the candles for a symbol the table lacks (docs/instruments.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from application.ports.errors import UnknownSymbolError
from application.ports.instruments import BUNDLED, INFERRED, InstrumentRules
from domain.model.candles import CandleSeries
from domain.model.inference import infer_instrument
from domain.model.symbols import Instrument, Symbol

TABLE = "instruments.json"


@lru_cache(maxsize=1)
def bundled_table() -> dict[str, Any]:
    """The bundled table as stored: ``venue``, ``about`` and ``symbols`` (symbol -> its rules and source)."""
    text = resources.files("adapters.files").joinpath("bundled", TABLE).read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


class BundledInstruments:
    """Implements the ``Instruments`` port over the bundled table (plus inference from the candles)."""

    def __init__(self, table: dict[str, Any] | None = None) -> None:
        self._table = table if table is not None else bundled_table()
        self._rows: dict[str, dict[str, str]] = self._table["symbols"]

    def symbols(self) -> list[str]:
        """The symbols the table holds."""
        return sorted(self._rows)

    def instrument(self, symbol: Symbol, history: CandleSeries | None = None) -> InstrumentRules:
        row = self._rows.get(str(symbol))
        if row is not None:
            instrument = Instrument(
                symbol, Decimal(row["tick_size"]), Decimal(row["step_size"]), Decimal(row["min_notional"])
            )
            return InstrumentRules(instrument, BUNDLED, f"{self._table['venue']} table: {row['source']}")
        if history is None:
            raise UnknownSymbolError(str(symbol), self.symbols())  # no row, and no candles to infer from
        inferred = infer_instrument(symbol, history.open, history.high, history.low, history.close, history.volume)
        i = inferred.instrument
        detail = (
            f"tick {i.tick_size:f}: {inferred.tick_from}; step {i.step_size:f}: {inferred.step_from}; "
            f"min notional {i.min_notional:f}: {inferred.min_notional_from}"
        )
        return InstrumentRules(inferred.instrument, INFERRED, detail)
