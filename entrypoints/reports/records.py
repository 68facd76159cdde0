"""A backtest as plain records: what ``atb backtest --json`` prints and what the research API
(``entrypoints.research``) turns into pandas objects. One code path, so the two cannot drift.

Times are ISO 8601 UTC strings (``...Z``); a number JSON cannot hold (NaN, infinity) is ``null``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np

from application.use_cases.run_backtest import BacktestReport
from domain.model.trades import Trade
from domain.risk import RiskEvent


def iso(ms: int) -> str:
    """UTC ms as ISO 8601 with a Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def isos(times: np.ndarray) -> list[str]:
    """Many UTC ms at once, as :func:`iso` writes each."""
    text = np.datetime_as_string(np.asarray(times, dtype=np.int64).astype("datetime64[ms]"), unit="s")
    return [f"{t}Z" for t in text.tolist()]


def finite(x: Any) -> Any:
    """A float JSON can hold, else None; anything else as it is."""
    return x if isinstance(x, float) and math.isfinite(x) else (None if isinstance(x, float) else x)


def floats(values: np.ndarray | None) -> list[float | None]:
    """An array as a list of floats, NaN and infinities as None."""
    if values is None:
        return []
    array = np.asarray(values, dtype=np.float64)
    out: list[float | None] = array.tolist()
    bad = np.flatnonzero(~np.isfinite(array))
    for i in bad.tolist():
        out[i] = None
    return out


# The columns of a trade record, in order (the research API's trades DataFrame has the same ones).
TRADE_COLUMNS = (
    "symbol", "direction", "entry_time", "exit_time", "entry_price", "exit_price", "quantity", "fees", "pnl",
    "return_pct", "exit_reason", "mfe", "mae", "stop_initial", "stop_last",
)  # fmt: skip


def trade_dict(t: Trade) -> dict[str, Any]:
    """One closed trade. ``mfe`` / ``mae``: the best and worst excursion while open, fractions of the entry price
    (``mfe >= 0 >= mae``); ``stop_initial``: the protective stop attached at entry, ``stop_last``: the stop in
    force when it closed (a trailing or break-even rule moves it); ``null`` when the trade had no stop."""
    return {
        "symbol": str(t.symbol),
        "direction": t.direction.value,
        "entry_time": iso(t.entry_time),
        "exit_time": iso(t.exit_time),
        "entry_price": t.entry_price,
        "exit_price": t.exit_price,
        "quantity": t.quantity,
        "fees": t.fees,
        "pnl": t.pnl,
        "return_pct": t.return_pct,
        "exit_reason": t.exit_reason,
        "mfe": finite(t.mfe),
        "mae": finite(t.mae),
        "stop_initial": finite(t.stop_initial),
        "stop_last": finite(t.stop_last),
    }


def risk_event_dict(e: RiskEvent) -> dict[str, Any]:
    return {
        "time": iso(e.time_ms),
        "rule": e.rule,
        "kind": e.kind,
        "equity": finite(e.equity),
        "drawdown": finite(e.drawdown),
        "peak": finite(e.peak),
    }


def denial_counts(report: BacktestReport) -> list[tuple[str, str, int]]:
    """``(rule, action, count)`` of the report's denials and reductions, the most frequent first."""
    counts = Counter((d.rule, d.action) for d in report.denials)
    return [(rule, action, n) for (rule, action), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def cash_curve(report: BacktestReport) -> np.ndarray:
    """The quote balance at each bar's close (a report built without one: equity minus nothing held is unknown,
    NaN)."""
    return report.cash if report.cash is not None else np.full(report.bars, np.nan)


def equity_curve_dict(report: BacktestReport) -> dict[str, list[Any]]:
    """The account at each backtested bar's close, column by column: ``time`` (the bar's open time),
    ``equity``, ``cash`` (the quote balance) and ``exposure`` (gross position value over equity), for the
    whole account (a portfolio's symbols share it)."""
    return {
        "time": isos(report.open_time),
        "equity": floats(report.equity),
        "cash": floats(cash_curve(report)),
        "exposure": floats(report.exposure),
    }


def report_dict(report: BacktestReport) -> dict[str, Any]:
    """Everything ``atb backtest --json`` prints (docs/backtesting.md lists the keys)."""
    req = report.request
    sim = req.simulation
    return {
        "strategy": {
            "name": report.strategy_name,
            "version": report.strategy_version,
            "params": report.strategy_params,
        },
        "config": {
            "symbols": [str(s) for s in req.symbols],
            "timeframe": req.timeframe.value,
            "initial_balance": float(req.initial_cash),
            "fee_bps": float(sim.fee_bps),
            "slippage_bps": float(sim.slippage_bps),
            "volatility_slippage": sim.volatility_slippage,
            "leverage": float(sim.leverage),
            "allow_short": req.engine.allow_short,
            "intrabar": sim.intrabar,
            "gap_policy": req.gap_policy,
        },
        "data": {
            "start": iso(int(report.open_time[0])),
            "end": iso(int(report.open_time[-1]) + req.timeframe.milliseconds),
            "bars": report.bars,
            "warmup_bars": report.warmup_bars_used,
            "symbols": {
                sym: {
                    "gaps": gap.gaps,
                    "missing_bars": gap.missing_bars,
                    "largest_gap_bars": gap.largest_missing_bars,
                    "zero_volume_bars": report.zero_volume_bars.get(sym, 0),
                }
                for sym, gap in report.gaps.items()
            },
        },
        "metrics": {k: finite(v) for k, v in report.metrics.items()},
        "trades": [trade_dict(t) for t in report.trades],
        "open_positions": {
            sym: {"quantity": float(p.quantity), "average_entry": float(p.average_entry)}
            for sym, p in report.open_positions.items()
        },
        # an uncapped limit (inf) is null: JSON has no infinity
        "risk": {"limits": {k: finite(v) for k, v in report.risk_limits.items()}, "sizer": report.sizer},
        "denials": [
            {"time": iso(d.time_ms), "symbol": d.symbol, "action": d.action, "rule": d.rule, "reason": d.reason}
            for d in report.denials
        ],
        "denial_counts": [{"rule": rule, "action": action, "count": n} for rule, action, n in denial_counts(report)],
        "risk_events": [risk_event_dict(e) for e in report.risk_events],
        "model": report.model,
        "instruments": report.instruments,
        "notes": report.notes,
        "equity_curve": equity_curve_dict(report),
    }


def report_json(report: BacktestReport) -> str:
    return json.dumps(report_dict(report), indent=2, allow_nan=False)
