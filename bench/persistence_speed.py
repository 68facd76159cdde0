"""How long saving a backtest takes, next to the backtest itself: bundled BTCUSDT 1h (~33k bars), the
session, its trades, denials, metrics and one account snapshot per bar, on SQLite and PostgreSQL.

    .venv/bin/python bench/persistence_speed.py [--repeat 3] [--postgres URL]

PostgreSQL: a throwaway database on the server of ``--postgres`` (default: postgres on 127.0.0.1:5432) is
created, migrated and dropped. Results go to bench/results/persistence_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
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


def _time_save(db: Database, report: BacktestReport, repeat: int) -> float:
    save = SaveBacktest(db.unit_of_work)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        save(report)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    report, backtest_s = _backtest()
    results: dict[str, object] = {
        "dataset": "bundled BTCUSDT 1h", "bars": report.bars, "trades": len(report.trades),
        "denials": len(report.denials), "backtest_s": round(backtest_s, 4), "python": platform.python_version(),
    }  # fmt: skip
    print(f"backtest: {report.bars:,} bars, {len(report.trades)} trades, {backtest_s * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'atb.db'}")
        db.upgrade()
        results["sqlite_save_s"] = round(_time_save(db, report, args.repeat), 4)
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
            results["postgresql_save_s"] = round(_time_save(db, report, args.repeat), 4)
            db.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for key in ("sqlite_save_s", "postgresql_save_s"):
        if key in results:
            seconds = float(results[key])  # type: ignore[arg-type]
            print(f"{key.split('_')[0]:>10}: save {seconds * 1000:.0f} ms ({seconds / backtest_s:.0%} of the backtest)")
    out = ROOT / "bench" / "results" / "persistence_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
