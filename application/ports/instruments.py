"""Where a symbol's exchange rules come from: a venue's table, or the candles when the venue's table lacks it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.model.candles import CandleSeries
from domain.model.symbols import Instrument, Symbol

BUNDLED = "bundled"  # the venue's table shipped with atb (docs/instruments.md says when it was taken)
INFERRED = "inferred"  # read off the candles (domain.model.inference)
OVERRIDDEN = "overridden"  # set on the command line


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """A symbol's rules and where they came from: ``source`` is ``bundled`` or ``inferred`` (``overridden``
    when every rule was set by hand), ``detail`` says how, in a phrase for people."""

    instrument: Instrument
    source: str
    detail: str = ""


class Instruments(Protocol):
    """The exchange rules (tick size, step size, minimum notional) of the symbols a run trades.

    ``instrument`` answers from the venue's table; for a symbol the table lacks it infers the rules from
    ``history`` (the candles the run trades) and raises ``UnknownSymbolError`` when no history is given.
    Answers are pure: the same symbol and history give the same rules.
    """

    def instrument(self, symbol: Symbol, history: CandleSeries | None = None) -> InstrumentRules: ...
