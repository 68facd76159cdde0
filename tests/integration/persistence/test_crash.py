"""Kill -9 a writer in the middle of a session: what it committed is intact, nothing half-written shows."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from adapters.persistence import Database
from domain.model.orders import OrderStatus

ROOT = Path(__file__).resolve().parents[3]


def _start(url: str, fills: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.persistence.crash_writer", url, str(fills)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def _read_until(proc: subprocess.Popen[str], stop: str) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline().strip()
        if not line:
            raise AssertionError(f"the writer ended early: {lines[-3:]}")
        lines.append(line)
        if line.startswith(stop):
            return lines
    raise AssertionError("the writer took too long")


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    assert proc.stdout is not None
    proc.stdout.close()


def _check_consistent(database: Database, session_id: int) -> int:
    """Every stored fill has its order filled and is counted in the position; returns the number of fills."""
    with database.unit_of_work() as uow:
        fills = uow.fills.for_session(session_id)
        orders = {o.client_order_id: o for o in uow.orders.for_session(session_id)}
        positions = uow.positions.open_positions(session_id)
        assert uow.account.for_session(session_id) == []
        assert uow.sessions.get(session_id).status == "running"
    for fill in fills:
        assert orders[fill.client_order_id].status is OrderStatus.FILLED
    filled = {cid for cid, o in orders.items() if o.status is OrderStatus.FILLED}
    assert filled == {f.client_order_id for f in fills}
    quantity = sum((f.quantity for f in fills), Decimal(0))
    assert [p.position.quantity for p in positions] == ([quantity] if fills else [])
    return len(fills)


def test_a_kill_in_an_open_transaction_loses_only_that_transaction(database: Database) -> None:
    proc = _start(database.url.render_as_string(hide_password=False), 5)
    try:
        lines = _read_until(proc, "mid-transaction")
    finally:
        _kill(proc)
    session_id = int(lines[0].split()[1])
    assert lines[1:-1] == [f"committed {i}" for i in range(5)]
    assert _check_consistent(database, session_id) == 5
    with database.unit_of_work() as uow:
        assert uow.orders.get("crash-10000") is None


def test_a_kill_at_a_random_moment_leaves_whole_transactions(database: Database) -> None:
    proc = _start(database.url.render_as_string(hide_password=False), -1)
    try:
        lines = _read_until(proc, "committed 3")
        time.sleep(random.uniform(0.0, 0.05))
    finally:
        _kill(proc)
    session_id = int(lines[0].split()[1])
    # At least what it announced is there; at most one more (committed, not yet announced).
    assert _check_consistent(database, session_id) >= 4
