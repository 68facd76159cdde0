"""``atb sessions``: saved sessions (backtests now; paper and live later), listed or shown one by one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from application.names import SESSION_ID_MAX
from application.use_cases.save_backtest import jsonable
from application.use_cases.sessions import DeleteSession, SessionDetail, group_events
from domain.metrics import METRICS
from entrypoints.cli.common import console
from entrypoints.cli.db import checked_container
from entrypoints.reports.fmt import format_metric, price, tick_decimals


def _time(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


class SessionId(click.ParamType[int]):
    """A session id: a whole number from 1 to 2**63 - 1 (the database's 64-bit key), else one usage line."""

    name = "session_id"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or len(text) > 19 or not 1 <= int(text) <= SESSION_ID_MAX:
            shown = text if len(text) <= 24 else text[:24] + "..."
            self.fail(f"{shown!r}: a session id is a whole number from 1 to {SESSION_ID_MAX}", param, ctx)
        return int(text)


SESSION_ID = SessionId()


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4f}"


@click.group()
def sessions() -> None:
    """Saved sessions: `atb backtest --save` records one."""


@sessions.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def sessions_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The newest sessions, newest first."""
    found = checked_container(ctx).list_sessions()(limit)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in jsonable(s).items() if k != "config"} for s in found], indent=2))
        return
    if not found:
        click.echo("no sessions saved yet; run `atb backtest --save`")
        return
    table = Table(show_header=True, header_style="bold")
    for col in ("ID", "Mode", "Strategy", "Symbols", "TF", "Data (UTC)", "Status", "Started (UTC)"):
        table.add_column(col)
    for s in found:
        table.add_row(
            str(s.id), s.mode, f"{s.strategy} {s.strategy_version}", ",".join(s.symbols), s.timeframe,
            f"{_time(s.data_start_ms)} → {_time(s.data_end_ms)}", s.status, _time(s.started_ms),
        )  # fmt: skip
    console().print(table)


@sessions.command("show")
@click.argument("session_id", type=SESSION_ID)
@click.option("--trades", "max_trades", type=click.IntRange(0), default=20, show_default=True,
              help="Show at most this many trades (the last ones).")  # fmt: skip
@click.option("--events", "max_events", type=click.IntRange(0), default=3, show_default=True,
              help="Show the first this many events of each rule.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print as JSON (every order, fill, trade and event).")
@click.pass_context
def sessions_show(ctx: click.Context, session_id: int, max_trades: int, max_events: int, as_json: bool) -> None:
    """A session: its configuration, metrics, how many orders and fills, its trades and events."""
    detail: SessionDetail = checked_container(ctx).show_session()(session_id)
    if as_json:
        click.echo(json.dumps(_detail_dict(detail), indent=2))
        return
    s = detail.session
    out = console()
    out.print(
        f"[bold]session {s.id}[/bold]  {s.mode} on {s.exchange}  ·  [bold]{s.strategy}[/bold] {s.strategy_version}  ·  "
        f"{','.join(s.symbols)} {s.timeframe}  ·  {s.status}"
    )
    out.print(
        f"data {_time(s.data_start_ms)} → {_time(s.data_end_ms)} UTC  ·  started {_time(s.started_ms)}, "
        f"ended {_time(s.ended_ms)}  ·  model {s.model_version or '-'}  ·  balance {s.initial_balance}"
    )
    params = s.config.get("strategy_params")
    if isinstance(params, dict) and params:
        out.print("params: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    if detail.metrics is not None:
        out.print(_metrics_table(detail.metrics.values, f"metrics at {_time(detail.metrics.time_ms)} UTC"))
    out.print(f"{len(detail.orders)} orders  ·  {len(detail.fills)} fills  ·  {len(detail.trades)} trades  ·  "
              f"{len(detail.events)} events  ·  {detail.account_snapshots:,} account snapshots  ·  "
              f"final equity {_figure(detail.final_equity)}")  # fmt: skip
    instruments = s.config.get("instruments")  # the exchange rules the session traded under (JSON)
    rules: dict[str, dict[str, Any]] = instruments if isinstance(instruments, dict) else {}
    if detail.trades and max_trades:
        table = Table(show_header=True, header_style="bold", title="trades (latest)")
        for col in ("Symbol", "Side", "Entry (UTC)", "Exit (UTC)", "Entry", "Exit", "Qty", "Fees", "PnL", "Reason"):
            table.add_column(col)
        for t in detail.trades[-max_trades:]:
            dp = tick_decimals(rules, t.symbol)  # the tick's decimals (size-based for sessions saved before)
            table.add_row(
                str(t.symbol), t.direction.value, _time(t.entry_time), _time(t.exit_time), price(t.entry_price, dp),
                price(t.exit_price, dp), f"{t.quantity:g}", f"{t.fees:,.2f}", f"{t.pnl:,.2f}", t.exit_reason,
            )  # fmt: skip
        out.print(table)
    if detail.events:
        table = Table(show_header=True, header_style="bold", title="events by rule")
        for col in ("Kind", "Rule", "Count", f"First (at most {max_events})"):
            table.add_column(col, justify="right" if col == "Count" else "left")
        for group in group_events(detail.events, first=max_events):
            first = "\n".join(f"{_time(e.time_ms)} {e.symbol or '-'}: {e.message}" for e in group.first)
            table.add_row(group.kind, group.rule, f"{group.count:,}", first)
        out.print(table)
    for p in detail.positions:
        pnl = p.unrealized_pnl
        entry = price(float(p.position.average_entry), tick_decimals(rules, p.position.symbol))
        out.print(f"open: {p.position.symbol} {p.position.quantity} @ {entry}"
                  + (f", unrealised {pnl:.2f}" if pnl is not None else ""))  # fmt: skip


@sessions.command("delete")
@click.argument("session_id", type=SESSION_ID)
@click.option("--yes", is_flag=True, help="Really delete (without it, nothing is deleted).")
@click.pass_context
def sessions_delete(ctx: click.Context, session_id: int, yes: bool) -> None:
    """Delete a session and everything stored about it (trades, events, account history...), at once."""
    if not yes:
        raise click.UsageError(f"deleting session {session_id} cannot be undone: pass --yes to delete it")
    database = checked_container(ctx).database()
    s = DeleteSession(database.unit_of_work)(session_id)
    click.echo(f"deleted session {s.id}: {s.mode} {s.strategy} {','.join(s.symbols)} {s.timeframe}")


def _metrics_table(values: Mapping[str, float | None], title: str) -> Table:
    """The stored metrics with the backtest summary's labels and formats (``domain.metrics.METRICS``); any
    figure the specs do not know follows under its own name."""
    table = Table(show_header=True, header_style="bold", title=title)
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for spec in METRICS:
        if spec.key in values:
            table.add_row(spec.label, format_metric(spec.kind, values[spec.key]))
    known = {spec.key for spec in METRICS}
    for name, value in values.items():
        if name not in known:
            table.add_row(name, _figure(value))
    return table


def _detail_dict(detail: SessionDetail) -> dict[str, Any]:
    trades = [{**jsonable(t), "symbol": str(t.symbol)} for t in detail.trades]
    orders = [{**jsonable(o.request), "status": o.status.value, "filled_quantity": str(o.filled_quantity),
               "average_price": jsonable(o.average_price), "reason": o.reason} for o in detail.orders]  # fmt: skip
    return {
        "session": jsonable(detail.session),
        "metrics": jsonable(detail.metrics),
        "orders": orders,
        "fills": jsonable(detail.fills),
        "trades": trades,
        "events": jsonable(detail.events),
        "positions": [
            {"symbol": str(p.position.symbol), "quantity": str(p.position.quantity),
             "entry_price": str(p.position.average_entry), "unrealized_pnl": jsonable(p.unrealized_pnl)}
            for p in detail.positions
        ],
        "account_snapshots": detail.account_snapshots,
        "final_equity": detail.final_equity,
    }  # fmt: skip
