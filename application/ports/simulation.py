"""What only a simulation does: match orders bar by bar, know when nothing can fill, take its settings from a
factory, and (optionally) replay a symbol's signals on its own (docs/adr/0023-one-engine.md, point 4).

What every venue does is ``application.ports.venue``; a live exchange implements that and none of this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from application.ports.clock import Clock
from application.ports.venue import ExecutionVenue
from domain.model.market import MarketFrame
from domain.model.orders import Fill, OrderRequest
from domain.model.positions import Position
from domain.model.symbols import Instrument


class SimulatedVenue(ExecutionVenue, Protocol):
    """A venue that replays bars (backtests and paper trading), stepped by the engine bar by bar.

    The engine calls ``process_bar(i)`` once per visited bar, in increasing order. Fills it returns happened
    during bar ``i`` (from its open to its close), in time order, matched against that bar's prices. Orders
    submitted after ``process_bar(i)`` can fill from bar ``i + 1`` on, never earlier. The same fills are
    reported by ``fills_since`` (the venue's view), each once.
    """

    def process_bar(self, index: int) -> list[Fill]:
        """Fills during bar ``index`` (see the class docstring)."""
        ...

    def quiet_until(self, index: int, horizon: int) -> int:
        """The last bar ``j`` in ``[index - 1, horizon - 1]`` such that no open order can fill in bars
        ``index..j``: the engine will visit ``horizon`` anyway, so nothing past it needs looking at.
        ``index - 1`` when it cannot tell (the engine then visits every bar)."""
        ...


Broker = SimulatedVenue
"""The venue the engine steps today (backtests, paper trading). A live driver will step an
:class:`ExecutionVenue` through ``fills_since`` instead (ADR 0023, point 1)."""


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """How a simulated venue fills orders (docs/backtesting.md).

    Fees are per side on the notional (``maker_fee_bps`` None: makers pay the taker fee). Slippage moves
    market and stop fills against us: ``slippage_bps`` fixed, plus ``volatility_slippage`` x the standard
    deviation of the last 20 bar returns. ``leverage`` above 1 makes it a margin account, where
    ``maintenance_margin`` sets the liquidation price. ``intrabar`` decides whether a stop or a target
    inside the same bar came first.
    """

    fee_bps: Decimal = Decimal(10)
    maker_fee_bps: Decimal | None = None
    slippage_bps: Decimal = Decimal(5)
    volatility_slippage: float = 0.0
    allow_short: bool = False
    leverage: Decimal = Decimal(1)
    maintenance_margin: Decimal = Decimal("0.005")
    intrabar: str = "stop_first"
    fill_on_zero_volume: bool = False


class SimulatorFactory(Protocol):
    """Builds a simulated venue and its clock that replay ``market`` (backtests, paper trading), trading each symbol
    under ``instruments`` (one per symbol; ``None``: the factory's own rules for them)."""

    def __call__(
        self,
        market: MarketFrame,
        cash: Decimal,
        settings: SimulationSettings,
        instruments: Sequence[Instrument] | None = None,
    ) -> tuple[SimulatedVenue, Clock]: ...


def _no_equity(bar: int) -> float:
    return math.nan


def _no_equity_max(first: int, last: int) -> float:
    return math.nan


class ReplayAccount:
    """The account as a :class:`SignalReplay` venue hands it to the engine at an entry decision (one
    mutable record, updated in place before each call; read it during the call only)."""

    __slots__ = (
        "bar", "cash", "equity", "equity_at", "equity_max", "gross", "loss_sum", "losses", "peak", "quantity", "seq",
        "win_sum", "wins",
    )  # fmt: skip

    def __init__(self) -> None:
        self.bar = 0  # the deciding bar
        # The equity at the close of an earlier bar (NaN: the venue has none): the venue writes the equity
        # curve when the replay ends, so the engine asks it here for the marks its rules read.
        self.equity_at: Callable[[int], float] = _no_equity
        # The highest equity at the closes of bars first..last (the drawdown breaker's peak after a reset).
        self.equity_max: Callable[[int, int], float] = _no_equity_max
        self.cash = self.equity = self.gross = self.peak = self.quantity = 0.0
        self.seq = 0  # orders the engine has numbered so far (exits decided by the venue included)
        self.wins = self.losses = 0
        self.win_sum = self.loss_sum = 0.0

    def at(self, bar: int, cash: float, quantity: float, value: float, peak: float, seq: int) -> ReplayAccount:
        """The account at ``bar``'s close, holding ``quantity`` worth ``value`` (marked as the engine marks
        it: equity ``cash + value``, gross exposure ``|value|``); returns itself."""
        self.bar = bar
        self.cash = cash
        self.quantity = quantity
        self.equity = cash + value
        self.gross = abs(value)
        self.peak = peak
        self.seq = seq
        return self


@dataclass(frozen=True, slots=True, eq=False)
class ReplayOutcome:
    """What a replay produced: the fills in order, the bar of each, the cash balance and the quantity held
    after each (floats of the decimals, as the engine marks them), the net PnL of each closed round trip (as
    the engine computes it for a whole exit of one entry), the peak equity, the number of orders the engine
    has numbered, and the venue's cash and position afterwards."""

    fills: list[Fill]
    rows: list[int]
    cash_after: list[float]
    held_after: list[float]
    trade_pnl: list[float]
    peak: float
    orders: int
    cash: Decimal  # the venue's free cash after the replay
    position: Position | None  # the symbol's position after the replay (None: it never traded)


@runtime_checkable
class SignalReplay(Protocol):
    """A simulated venue that can replay one symbol's signals on its own (event to event), for the engine's
    long-only, one-entry-per-position rules with a fixed stop-loss: it fills, marks equity and exposure
    at each close into the arrays it is given, exits on ``long_exit`` or ``short_entry`` while long, and
    calls ``decide`` at each bar where an entry may be taken. ``decide`` returns the entry order (a
    quote-sized market buy, optionally with ``stop_loss``) or ``None``; ``exit_id(bar)`` names the
    exit orders it decides; ``deny(bar, reason)`` reports an entry the venue rejected at fill time.
    The results equal ``process_bar`` bar by bar (tested), float for float."""

    def can_replay(self, column: int) -> bool:
        """Whether the symbol in ``column`` can be replayed: nothing open yet, every bar tradable, spot."""
        ...

    def replay(
        self,
        column: int,
        start: int,
        signals: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]],
        equity: npt.NDArray[np.float64],
        exposure: npt.NDArray[np.float64],
        decide: Callable[[ReplayAccount], OrderRequest | None],
        exit_id: Callable[[int], str],
        deny: Callable[[int, str], None],
        *,
        peak: float = math.nan,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplayOutcome:
        """Replay bars ``start..end`` (see the class docstring). ``peak``: track the highest equity from
        this value (NaN: do not track)."""
        ...
