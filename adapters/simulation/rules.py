"""Why the simulated venue refuses an order: one wording for :class:`SimulatedBroker` and its signal replay."""

from __future__ import annotations

from decimal import Decimal

ZERO_QUANTITY = "quantity rounds down to zero at the exchange's step size"


def below_minimum(notional: Decimal, minimum: Decimal) -> str:
    return f"order notional {notional:.2f} is below the exchange minimum of {minimum}"


def insufficient_balance(cost: Decimal, cash: Decimal) -> str:
    return f"insufficient balance: needs {cost:.2f}, has {cash:.2f}"


def off_grid(name: str, value: Decimal, grid: Decimal) -> str:
    return f"{name} {value} is not a multiple of {grid}"
