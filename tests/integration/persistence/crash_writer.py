"""A writer process for the crash test: records fills (each with its order and position in one transaction)
and says on stdout what it has committed, then opens a large transaction it never commits.

    python -m tests.integration.persistence.crash_writer URL FILLS
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from adapters.persistence import Database
from application.ports.repositories import AccountSnapshot, PositionSnapshot, SessionRecord
from application.use_cases.sessions import SessionRecorder
from domain.model.orders import Fill, Order, OrderRequest, OrderType, Side
from domain.model.positions import Position
from domain.model.symbols import Symbol

BTC = Symbol("BTC", "USDT")
T0 = 1_700_000_000_000
STEP = Decimal("0.001")


def _order(i: int) -> Order:
    return Order(OrderRequest(f"crash-{i}", BTC, Side.BUY, OrderType.MARKET, STEP, T0 + i, tag="entry"))


def main(url: str, fills: int) -> None:
    db = Database(url)
    session = SessionRecord("paper", "simulated", "crash", "1", {}, ("BTCUSDT",), "1h", T0)
    recorder = SessionRecorder.start(db.unit_of_work, session)
    print(f"session {recorder.session_id}", flush=True)
    position = Position(BTC)
    i = 0
    while fills < 0 or i < fills:  # a negative count: record until killed
        order = _order(i)
        recorder.record_order(order, T0 + i)
        fill = Fill(order.client_order_id, BTC, Side.BUY, STEP, Decimal("40000.01") + i, Decimal("0.04"), T0 + i,
                    trade_id=f"{order.client_order_id}#1")  # fmt: skip
        position = position.apply(fill)
        recorder.record_fill(order.with_fill(fill), fill, PositionSnapshot(position, T0 + i))
        print(f"committed {i}", flush=True)
        i += 1
    # A transaction that is never committed: the process is killed in the middle of it.
    uow = db.unit_of_work()
    with uow:
        order = _order(10_000)
        uow.orders.save(recorder.session_id, order, T0)
        fill = Fill(order.client_order_id, BTC, Side.BUY, STEP, Decimal("1"), Decimal("0"), T0, trade_id="crash-t")
        uow.fills.add(recorder.session_id, fill)
        uow.positions.save(recorder.session_id, PositionSnapshot(position.apply(fill), T0))
        uow.account.add_many(recorder.session_id, [AccountSnapshot(T0 + k, Decimal(k)) for k in range(5000)])
        print("mid-transaction", flush=True)
        time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
