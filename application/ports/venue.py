"""Where orders go: what every venue does, simulated or an exchange (docs/adr/0023-one-engine.md, point 4).

The simulation-only part (per-bar matching, quiet spans, settings, the factory, the signal replay) is in
``application.ports.simulation``; an exchange adapter implements this module's :class:`ExecutionVenue` and
nothing else. The contract suite ``tests/contract/test_venue.py`` runs against every implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from domain.model.orders import Fill, Order, OrderRequest
from domain.model.symbols import Instrument, Symbol

FillCursor = str
"""Where :meth:`ExecutionVenue.fills_since` left off: opaque text the venue made, ``FILLS_START`` for the
beginning. Store it with the fills it followed (a restart resumes from it)."""

FILLS_START: FillCursor = ""


@dataclass(frozen=True, slots=True)
class Balance:
    """One asset held at the venue: ``free`` to spend, ``locked`` by open orders (a buy locks the quote it may
    spend, a sell the base it may sell), in the asset's own units."""

    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class ExecutionVenue(Protocol):
    """A venue: instrument rules, orders by our client order id, balances and fills.

    Times are UTC milliseconds; quantities and prices exact decimals on the instrument's grid. Every call
    may be retried after a timeout: ``submit`` and ``cancel`` are idempotent, and ``order`` tells what a
    lost reply did.
    """

    def instrument(self, symbol: Symbol) -> Instrument:
        """Tick size, step size and minimum notional of ``symbol``; ``OrderRejected`` if not traded here."""
        ...

    def submit(self, request: OrderRequest) -> Order:
        """Place an order, idempotent **by lookup**: the venue first looks ``request.client_order_id`` up
        (open or not) and returns that order if it knows it, so a retried submit never places a second one
        (venues only refuse a duplicate client id among *open* orders, so the lookup is ours to do).

        Raises ``OrderRejected`` (``InsufficientBalance``) when the venue refuses it outright: an unknown
        symbol, a price off the tick grid, a quantity off the step grid, a notional below the minimum, not
        enough free balance. A venue may also accept an order and reject it later (when it would fill): it
        then reports it through :meth:`take_rejections`.
        """
        ...

    def cancel(self, client_order_id: str) -> Order | None:
        """Cancel an open order; returns it as it now stands (canceled, or filled if it filled first), or
        ``None`` if the venue does not know the id. Idempotent: cancelling a closed order changes nothing."""
        ...

    def replace(self, client_order_id: str, new: OrderRequest) -> Order:
        """Cancel the open order ``client_order_id`` and place ``new`` (another client id, same symbol) in its
        stead; returns the new order. **Atomic where the venue has a primitive for it** (Binance
        ``order.cancelReplace`` with ``STOP_ON_FAILURE``; the simulator in one call, between two bars):
        either the old order is canceled and the new one placed, or (``OrderRejected``) the old one stands.
        A venue without such a primitive (Coinbase: cancel, then create) documents the window between the
        two. Idempotent: if ``new.client_order_id`` is already known, that order is returned.
        Raises ``OrderRejected`` when the old order is unknown or no longer open (it filled: nothing to
        protect any more) or when ``new`` is refused."""
        ...

    def order(self, client_order_id: str) -> Order | None:
        """The order with our ``client_order_id``, open or closed, as the venue knows it now; ``None`` if it
        never reached the venue (the basis of idempotent submits and of resuming after a restart)."""
        ...

    def open_orders(self, symbol: Symbol | None = None) -> list[Order]:
        """Orders still open (new or partially filled), optionally for one symbol, oldest first."""
        ...

    def balances(self) -> dict[str, Balance]:
        """Every asset held or locked, by asset name: ``free`` plus ``locked`` is what the account holds."""
        ...

    def fills_since(self, cursor: FillCursor) -> tuple[list[Fill], FillCursor]:
        """Fills after ``cursor`` (``FILLS_START``: all the venue still reports) in the order they happened,
        and the cursor to ask from next time. Each fill carries the venue's ``trade_id`` (unique at the
        venue) and ``fee_asset``; asking again from the returned cursor never returns a fill twice."""
        ...

    def take_rejections(self) -> list[Order]:
        """Orders the venue rejected after accepting them (e.g. at fill time), since the last call."""
        ...
