"""JSON-safe encodings of the values an engine or venue snapshot holds (``Engine.snapshot``, the simulated
venue's ``snapshot``): Decimals as their text (exact), NaN as ``None``, symbols by their exchange name.

A snapshot goes through ``json.dumps``/``json.loads`` (or a JSON column) unchanged: only ``dict``, ``list``,
``str``, ``int``, finite ``float`` (Python writes the shortest text that reads back to the same double),
``bool`` and ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from application.ports.errors import ConfigurationError
from domain.model.orders import OrderRequest, OrderType, Side
from domain.model.positions import Position
from domain.model.symbols import Symbol

Snapshot = dict[str, Any]


def num(x: float) -> float | None:
    """A float for JSON: ``None`` for NaN (JSON has no NaN); finite values round-trip exactly."""
    return None if math.isnan(x) else x


def unnum(x: float | int | None) -> float:
    return math.nan if x is None else float(x)


def dec(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def undec(x: str | None) -> Decimal | None:
    return None if x is None else Decimal(x)


def position_to_json(position: Position) -> Snapshot:
    return {
        "quantity": str(position.quantity),
        "cost": str(position.cost),
        "realized_pnl": str(position.realized_pnl),
        "fees": str(position.fees),
    }


def position_from_json(symbol: Symbol, data: Mapping[str, Any]) -> Position:
    return Position(
        symbol, Decimal(data["quantity"]), Decimal(data["cost"]), Decimal(data["realized_pnl"]), Decimal(data["fees"])
    )


def request_to_json(request: OrderRequest) -> Snapshot:
    return {
        "client_order_id": request.client_order_id,
        "symbol": str(request.symbol),
        "side": request.side.value,
        "type": request.type.value,
        "quantity": dec(request.quantity),
        "created_at": request.created_at,
        "quote_quantity": dec(request.quote_quantity),
        "price": dec(request.price),
        "stop_price": dec(request.stop_price),
        "reduce_only": request.reduce_only,
        "stop_loss": dec(request.stop_loss),
        "take_profits": [[str(p), str(f)] for p, f in request.take_profits],
        "tag": request.tag,
    }


def request_from_json(symbols: Mapping[str, Symbol], data: Mapping[str, Any]) -> OrderRequest:
    return OrderRequest(
        data["client_order_id"],
        symbol_of(symbols, data["symbol"]),
        Side(data["side"]),
        OrderType(data["type"]),
        undec(data["quantity"]),
        int(data["created_at"]),
        quote_quantity=undec(data["quote_quantity"]),
        price=undec(data["price"]),
        stop_price=undec(data["stop_price"]),
        reduce_only=bool(data["reduce_only"]),
        stop_loss=undec(data["stop_loss"]),
        take_profits=tuple((Decimal(p), Decimal(f)) for p, f in data["take_profits"]),
        tag=data["tag"],
    )


def symbol_of(symbols: Mapping[str, Symbol], name: str) -> Symbol:
    try:
        return symbols[name]
    except KeyError:
        raise ConfigurationError(f"the snapshot names {name}, which this run does not trade") from None


def check_schema(data: Mapping[str, Any], kind: str, schema: int) -> None:
    """Refuse a snapshot of another kind or schema version with one clear line."""
    if data.get("kind") != kind:
        raise ConfigurationError(f"expected a snapshot of kind {kind!r}, got {data.get('kind')!r}")
    if data.get("schema") != schema:
        raise ConfigurationError(f"{kind} snapshot schema {data.get('schema')!r}: this version reads {schema}")
