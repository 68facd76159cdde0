"""How long saving a backtest takes, next to the backtest itself: bundled BTCUSDT 1h (~33k bars), the
session, its orders and fills, trades, denials, metrics and one account snapshot (balance, equity, exposure)
per bar, on SQLite and PostgreSQL.

    .venv/bin/python bench/persistence_speed.py [--repeat 5] [--postgres URL]

Best and median of ``--repeat`` saves (each a new session in the same database). PostgreSQL: a throwaway
database on the server of ``--postgres`` (default: postgres on 127.0.0.1:5432) is created, migrated and
dropped. Results go to bench/results/persistence_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.persistence import Database  # noqa: E402
from application.use_cases.run_backtest import BacktestReport, BacktestRequest  # noqa: E402
from application.use_cases.save_backtest import SaveBacktest  # noqa: E402
from domain.model.symbols import Symbol  # noqa: E402
from domain.model.timeframe import Timeframe  # noqa: E402
from entrypoints.container import build_container  # noqa: E402


def _backtest() -> tuple[BacktestReport, float]:
    run = build_container({"mode": "backtest"}).run_backtest()
    request = BacktestRequest("ema_cross", (Symbol.parse("BTCUSDT"),), Timeframe.H1, Decimal(10_000))
    run(request)  # warm caches (bundled file read, imports)
    start = time.perf_counter()
    report = run(request)
    return report, time.perf_counter() - start


def _time_save(db: Database, report: BacktestReport, repeat: int) -> tuple[float, float]:
    """Best and median seconds of ``repeat`` saves."""
    save = SaveBacktest(db.unit_of_work)
    save(report)  # warm: the first save compiles SQLAlchemy's statements
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        save(report)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    report, backtest_s = _backtest()
    orders = len({f.client_order_id for f in report.fills})
    results: dict[str, object] = {
        "dataset": "bundled BTCUSDT 1h", "bars": report.bars, "trades": len(report.trades),
        "fills": len(report.fills), "orders": orders, "denials": len(report.denials),
        "backtest_s": round(backtest_s, 4), "python": platform.python_version(),
    }  # fmt: skip
    print(f"backtest: {report.bars:,} bars, {len(report.trades)} trades, {len(report.fills)} fills ({orders} orders), "
          f"{len(report.denials)} denials, {backtest_s * 1000:.0f} ms")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'atb.db'}")
        db.upgrade()
        best, median = _time_save(db, report, args.repeat)
        results["sqlite_save_s"], results["sqlite_save_median_s"] = round(best, 4), round(median, 4)
        db.dispose()
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"atb_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        print(f"PostgreSQL skipped: {str(e.orig).strip().splitlines()[0]}")
    else:
        try:
            db = Database(sa.make_url(args.postgres).set(database=name).render_as_string(hide_password=False))
            db.upgrade()
            best, median = _time_save(db, report, args.repeat)
            results["postgresql_save_s"], results["postgresql_save_median_s"] = round(best, 4), round(median, 4)
            db.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for name in ("sqlite", "postgresql"):
        if f"{name}_save_s" in results:
            best, median = float(results[f"{name}_save_s"]), float(results[f"{name}_save_median_s"])  # type: ignore[arg-type]
            print(f"{name:>10}: save {best * 1000:.0f} ms best, {median * 1000:.0f} ms median "
                  f"({best / backtest_s:.0%} / {median / backtest_s:.0%} of the backtest)")  # fmt: skip
    out = ROOT / "bench" / "results" / "persistence_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
