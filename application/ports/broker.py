"""Where orders go: the simulated broker in backtests and paper trading, an exchange in live trading."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from application.ports.clock import Clock
from domain.model.market import MarketFrame
from domain.model.orders import Fill, Order, OrderRequest
from domain.model.symbols import Instrument, Symbol


class Broker(Protocol):
    """Places orders and reports fills, bar by bar.

    The engine calls ``process_bar(i)`` once per visited bar, in increasing order. Fills it returns
    happened during bar ``i`` (from its open to its close), in time order; a simulated broker matches its
    resting orders against that bar's prices, an exchange broker returns what the venue reported since the
    last call. Orders submitted after ``process_bar(i)`` can fill from bar ``i + 1`` on, never earlier.
    """

    def instrument(self, symbol: Symbol) -> Instrument:
        """Tick size, step size and minimum notional of ``symbol``."""
        ...

    def submit(self, request: OrderRequest) -> Order:
        """Accept an order. Idempotent on ``request.client_order_id``: resubmitting returns the known order.

        Raises ``OrderRejected`` (or ``InsufficientBalance``) when the venue refuses it outright.
        """
        ...

    def cancel(self, client_order_id: str) -> Order | None:
        """Cancel an open order; returns it as it now stands, or ``None`` if unknown. Idempotent."""
        ...

    def open_orders(self, symbol: Symbol | None = None) -> list[Order]:
        """Orders still open, optionally for one symbol."""
        ...

    def process_bar(self, index: int) -> list[Fill]:
        """Fills during bar ``index`` (see the class docstring)."""
        ...

    def take_rejections(self) -> list[Order]:
        """Orders the venue rejected after accepting them (e.g. at fill time), since the last call."""
        ...

    def quiet_until(self, index: int, horizon: int) -> int:
        """The last bar ``j`` in ``[index - 1, horizon - 1]`` such that no open order can fill in bars
        ``index..j``: the engine will visit ``horizon`` anyway, so nothing past it needs looking at.

        A simulated broker searches its price arrays; a broker on a live venue answers ``index - 1``
        (it cannot know, so the engine visits every bar).
        """
        ...

    def cash(self) -> Decimal:
        """Free balance of the quote currency."""
        ...


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
    """Builds a broker and its clock that replay ``market`` (backtests, paper trading)."""

    def __call__(self, market: MarketFrame, cash: Decimal, settings: SimulationSettings) -> tuple[Broker, Clock]: ...
