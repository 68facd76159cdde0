"""Where orders go: the simulated broker in backtests and paper trading, an exchange in live trading."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from application.ports.clock import Clock
from domain.model.candles import CandleSeries
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

    def quiet_until(self, index: int) -> int:
        """The last bar ``j >= index - 1`` such that no open order can fill in bars ``index..j``.

        A simulated broker searches its price arrays; a broker on a live venue answers ``index - 1``
        (it cannot know, so the engine visits every bar).
        """
        ...

    def cash(self) -> Decimal:
        """Free balance of the quote currency."""
        ...


class SimulatorFactory(Protocol):
    """Builds a broker and its clock that replay ``candles`` (backtests, paper trading).

    ``fee_bps`` is charged per side on the notional (taker; makers pay ``maker_fee_bps`` when given),
    ``slippage_bps`` moves market and stop fills against us.
    """

    def __call__(
        self,
        candles: CandleSeries,
        cash: Decimal,
        fee_bps: Decimal,
        slippage_bps: Decimal,
        allow_short: bool,
    ) -> tuple[Broker, Clock]: ...
