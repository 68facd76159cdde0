"""What sizers and the risk manager see, and what they answer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import field
from typing import Protocol

from domain.model.values import value_object
from domain.regime.types import Regime


@value_object
class EntryProposal:
    """An entry a strategy wants, at a bar's close (times UTC ms, prices in the quote currency).

    ``side`` is +1 (long) or -1 (short). ``stop_distance`` is the price distance to the protective stop
    (NaN: none); ``atr`` the symbol's ATR at that bar (NaN: unknown); ``confidence`` in [0, 1] (a model's
    or an ensemble's; 1 when the signal has none); ``requested`` the fraction of equity the strategy asks
    for before sizing (its ``size`` parameter).
    """

    symbol: str
    time_ms: int
    side: int
    price: float
    stop_distance: float = math.nan
    atr: float = math.nan
    confidence: float = 1.0
    requested: float = 1.0


@value_object
class AccountView:
    """The account as the risk rules need it, at the proposal's bar.

    Exposures are fractions of equity (|notional| / equity); ``exposure_by_symbol`` counts open positions
    and entries already committed at this bar. ``correlations`` maps each held symbol to the rolling
    correlation of its returns with the proposal's symbol (NaN when unknown). ``regime`` is the proposal
    symbol's regime at this bar (None when no detector runs). ``win_rate`` / ``payoff`` are the closed
    trades' statistics so far (NaN before any), for Kelly sizing; ``closed_trades`` how many closed trades
    they come from (Kelly sizing uses its fallback until there are enough). ``breaker_tripped`` says the
    drawdown breaker has tripped and not reset; ``breaker_peak`` is the peak it measures from (NaN: the
    account's, ``peak_equity``; see ``domain/risk/breaker.py``).
    """

    equity: float
    peak_equity: float
    day_start_equity: float
    gross_exposure: float = 0.0
    exposure_by_symbol: Mapping[str, float] = field(default_factory=dict)
    correlations: Mapping[str, float] = field(default_factory=dict)
    regime: Regime | None = None
    win_rate: float = math.nan
    payoff: float = math.nan
    closed_trades: int = 0
    breaker_tripped: bool = False
    breaker_peak: float = math.nan

    @property
    def drawdown(self) -> float:
        """Current drawdown from the peak as a positive fraction (0 at a new high)."""
        return 0.0 if self.peak_equity <= 0 else max(0.0, 1.0 - self.equity / self.peak_equity)

    @property
    def breaker_drawdown(self) -> float:
        """Drawdown from the breaker's peak (the account's until the breaker first resets)."""
        peak = self.peak_equity if math.isnan(self.breaker_peak) else self.breaker_peak
        return 0.0 if peak <= 0 else max(0.0, 1.0 - self.equity / peak)

    @property
    def day_return(self) -> float:
        """Equity change since the start of the UTC day, as a fraction."""
        return 0.0 if self.day_start_equity <= 0 else self.equity / self.day_start_equity - 1.0


@value_object
class RiskDecision:
    """The fraction of equity an entry may commit (0: denied) and why it is less than asked, if it is."""

    fraction: float
    reasons: tuple[str, ...] = ()

    @property
    def denied(self) -> bool:
        return not self.fraction > 0


class PositionSizer(Protocol):
    """How much of the equity an entry commits, as a notional fraction (above 1 only with leverage)."""

    @property
    def name(self) -> str:
        """The sizer's registry name (a read-only member, so frozen dataclasses satisfy the protocol)."""
        ...

    def fraction(self, proposal: EntryProposal, account: AccountView) -> float:
        """The notional fraction of equity to commit (0 or less: no entry). Never raises for missing data."""
        ...
