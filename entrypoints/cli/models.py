"""``atb train`` and ``atb models``: train a model, list and inspect versions, promote, roll back, delete.

TensorFlow is imported only when ``atb train`` actually trains (inside the trainer), never by the other
commands.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from application.names import check_name, check_symbol
from application.ports.errors import ConfigurationError
from application.ports.models import MODEL_TYPES, ModelRef, TrainingParams
from application.use_cases.models import delete_model, describe_model, model_row, rollback_model
from application.use_cases.save_backtest import jsonable
from application.use_cases.train_model import PHASES, PROMOTE_MODES, TrainRequest
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.cli.common import Finite, cli_settings, console, container_settings, parse_date
from entrypoints.container import build_container
from entrypoints.settings import Settings

_DEFAULTS = TrainingParams()


def _time(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _pct(value: Any) -> str:
    return "-" if not isinstance(value, int | float) or not math.isfinite(value) else f"{value:.2%}"


def _num(value: Any, digits: int = 6) -> str:
    return "-" if not isinstance(value, int | float) or not math.isfinite(value) else f"{value:.{digits}f}"


def _settings(ctx: click.Context) -> Settings:
    return cli_settings(ctx)


def models_container(ctx: click.Context) -> Any:
    return build_container({"mode": "backtest", **container_settings(_settings(ctx))})


def model_ref(symbol: str, model_type: str, version: str | None = None) -> ModelRef:
    """The names a ``models`` command was given, checked against the naming rule (ADR 0015) before any work;
    ``version`` None: ``latest`` (the reference's version is then empty)."""
    ref = ModelRef(check_symbol(symbol.upper()), check_name("model type", model_type), version or "")
    if version is not None:
        check_name("version", version)
    return ref


def _range(meta: dict[str, Any], key: str) -> str:
    span = meta.get(key)
    if not isinstance(span, list) or len(span) != 2:
        return "-"
    return f"{_time(int(span[0]))} → {_time(int(span[1]))}"


# -- atb train ------------------------------------------------------------------------------------------------


EpochCallback = Callable[[int, int, dict[str, float]], None]

PHASE_TEXT = {
    "data": "loading candles and building the dataset",
    "training": "training",
    "export": "exporting to ONNX",
    "parity": "checking ONNX parity",
    "metrics": "out-of-sample metrics",
    "test backtest": "backtesting the test period",
    "stress backtests": "stress backtests",
}


class TrainDisplay:
    """Progress of ``atb train`` on stderr. On a terminal: one line with a spinner, the phase that runs
    (loading data, training, export, parity check, metrics, backtests), a bar over the epochs (its total,
    ``epochs``, known before the first epoch ends), the losses and the elapsed time. Otherwise one line per
    epoch and nothing else."""

    def __init__(self, out: Console, enabled: bool, epochs: int) -> None:
        self.progress: Progress | None = None
        if not enabled:
            return
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[logs]}"), TimeElapsedColumn(), console=out, transient=False,
        )  # fmt: skip
        self._task = self.progress.add_task("starting", total=epochs, count=f"epoch 0/{epochs}", logs="")
        self.progress.start()

    def epoch(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        if self.progress is None:
            figures = "  ".join(f"{k} {v:.3g}" for k, v in sorted(logs.items()))
            click.echo(f"epoch {epoch}/{epochs}  {figures}", err=True)
            return
        loss = "  ".join(f"{k} {v:.3g}" for k, v in sorted(logs.items()) if "loss" in k)
        self.progress.update(self._task, completed=epoch, total=epochs, count=f"epoch {epoch}/{epochs}", logs=loss)

    def phase(self, phase: str, detail: str = "") -> None:
        if self.progress is not None:
            text = PHASE_TEXT.get(phase, phase) + (f": {detail}" if detail else "")
            self.progress.update(self._task, description=text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.update(self._task, description="done")
            self.progress.stop()


def status_line(out: Console, enabled: bool, title: str) -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A one-line status on stderr (a terminal only) for a slow step made of counted parts (``atb models
    promote``'s stress backtests): ``(what, done, total)``."""
    if not enabled:
        return (lambda what, done, total: None), (lambda: None)
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out,
                        transient=True)  # fmt: skip
    task = progress.add_task(title, total=None)
    progress.start()

    def update(what: str, done: int, total: int) -> None:
        progress.update(task, description=f"{title}: {what} ({min(done + 1, total)}/{total})")

    return update, progress.stop


@click.command()
@click.option("--symbol", help="Symbol to train on (default: settings' default_symbol, e.g. BTCUSDT).")
@click.option("--type", "model_type", type=click.Choice(MODEL_TYPES), default="basic", show_default=True,
              help="basic: price features; sentiment: price + the Fear & Greed index.")
@click.option("--timeframe", help="Candle timeframe (default: settings' default_timeframe).")
@click.option("--start", help="First bar of the training data, YYYY-MM-DD (UTC). Default: start of the data.")
@click.option("--end", help="End of the training data, exclusive, YYYY-MM-DD (UTC). Default: end of the data.")
@click.option("--epochs", type=Finite(1, 10_000, integer=True), default=_DEFAULTS.epochs, show_default=True,
              help="Most epochs (early stopping may end sooner).")
@click.option("--patience", type=Finite(1, 1000, integer=True), default=_DEFAULTS.patience, show_default=True,
              help="Epochs without a better validation loss before stopping.")
@click.option("--batch-size", type=Finite(1, 65_536, integer=True), default=_DEFAULTS.batch_size, show_default=True)
@click.option("--learning-rate", type=Finite(0, 1, low_open=True), default=_DEFAULTS.learning_rate,
              show_default=True)
@click.option("--conv-filters", type=Finite(1, 4096, integer=True), default=_DEFAULTS.conv_filters, show_default=True)
@click.option("--lstm-units", type=Finite(1, 4096, integer=True), default=_DEFAULTS.lstm_units, show_default=True)
@click.option("--window", type=Finite(2, 10_000, integer=True), default=120, show_default=True,
              help="Bars per input window.")
@click.option("--norm-window", type=Finite(2, 100_000, integer=True), default=500, show_default=True,
              help="Bars of past data each feature is normalised with.")
@click.option("--val-fraction", type=Finite(0, 1, low_open=True, high_open=True), default=0.15,
              show_default=True)
@click.option("--test-fraction", type=Finite(0, 1, low_open=True, high_open=True), default=0.15,
              show_default=True)
@click.option("--seed", type=Finite(0, 2**32 - 1, integer=True), default=_DEFAULTS.seed, show_default=True)
@click.option("--threads", type=Finite(0, 1024, integer=True), default=_DEFAULTS.threads, show_default=True,
              help="TensorFlow threads (0: its default).")
@click.option("--version", "version", default="", help="Version name (default: YYYY-MM-DD_HHh_vN, UTC).")
@click.option("--promote", "promote", type=click.Choice(PROMOTE_MODES), default=None,
              help="auto (default): latest only if it passes the promotion gate; force: latest anyway (logged as "
                   "forced); never: register only.")
@click.option("--no-promote", is_flag=True, hidden=True, help="Same as --promote never.")
@click.option("--force", is_flag=True, hidden=True, help="Same as --promote force.")
@click.option("--json", "as_json", is_flag=True, help="Print the registered version's metadata as JSON.")
@click.pass_context
def train(
    ctx: click.Context, symbol: str | None, model_type: str, timeframe: str | None, start: str | None,
    end: str | None, epochs: int, patience: int, batch_size: int, learning_rate: float, conv_filters: int,
    lstm_units: int, window: int, norm_window: int, val_fraction: float, test_fraction: float, seed: int,
    threads: int, version: str, promote: str | None, no_promote: bool, force: bool, as_json: bool,
) -> None:  # fmt: skip
    """Train a CNN+LSTM model on bundled candles, export it to ONNX (parity checked), register it.

    The model's out-of-sample test metrics are recorded next to naive baselines (atb models show). The
    new version becomes latest only if it passes the promotion gate (docs/ml-strategies.md), unless
    --promote force.
    """
    aliases = {m for m, given in (("never", no_promote), ("force", force)) if given}
    if len(aliases | ({promote} if promote else set())) > 1:
        raise click.UsageError("choose one of --promote auto|force|never (--no-promote and --force are its aliases)")
    mode = promote or (aliases.pop() if aliases else "auto")
    if version:  # before any work: a name the registry would refuse must not cost a training first
        check_name("version", version)
    settings = _settings(ctx)
    request = TrainRequest(
        symbol=Symbol.parse(symbol or settings.default_symbol),
        model_type=model_type,
        timeframe=Timeframe.parse(timeframe or settings.default_timeframe),
        params=TrainingParams(
            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, conv_filters=conv_filters,
            lstm_units=lstm_units, patience=patience, seed=seed, threads=threads,
            kernel_size=_DEFAULTS.kernel_size, dropout=_DEFAULTS.dropout,
        ),
        window=window,
        norm_window=norm_window,
        start_ms=parse_date(start, "--start"),
        end_ms=parse_date(end, "--end"),
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        version=version,
        promote=mode,
    )  # fmt: skip
    container = models_container(ctx)
    err = console(stderr=True)
    display = TrainDisplay(err, enabled=err.is_terminal and not as_json, epochs=epochs)
    try:
        result = container.train_model()(request, progress=display.epoch, status=display.phase)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in ("tensorflow", "keras", "tf2onnx", "onnx"):
            raise ConfigurationError(
                f"training needs the train extra ({e.name} is not installed): pip install -e '.[train]'"
            ) from e
        raise
    finally:
        display.close()
    info = result.info
    ref = info.ref
    verdict = result.verdict.verdict if result.verdict is not None else "not evaluated"
    if result.promoted:
        forced = ", forced with --promote force" if mode == "force" else ""
        promoted = f"promoted to latest (gate {verdict}{forced})"
    elif mode == "never":
        promoted = (f"not promoted (--promote never; gate {verdict}); to promote: atb models promote {ref.symbol} "
                    f"{ref.model_type} {ref.version}")  # fmt: skip
    else:
        promoted = (f"{result.promotion}; it is registered (atb models show {ref.symbol} {ref.model_type} "
                    f"{ref.version}) and can be made latest anyway with --promote force or atb models promote … "
                    "--force")  # fmt: skip
    if as_json:
        click.echo(json.dumps({"ref": str(info.ref), "latest": info.is_latest, "promoted": result.promoted,
                               "promotion": promoted, "metadata": info.metadata}, indent=2))  # fmt: skip
        return
    out = console()
    meta = info.metadata
    training = meta.get("training", {})
    out.print(
        f"registered [bold]{info.ref}[/bold]: {training.get('epochs_run')} epochs in "
        f"{training.get('seconds', 0):.1f} s ({training.get('wall_seconds', 0):.1f} s in all), ONNX max abs diff "
        f"{training.get('onnx_max_abs_diff', math.nan):.2g}"
    )
    phases = training.get("phases") or {}
    out.print("time: " + ", ".join(f"{p} {phases[p]:.1f} s" for p in PHASES if p in phases), highlight=False)
    print_metrics(out, meta)
    print_gate(out, meta.get("gate"))
    for note in result.notes:
        out.print(f"[yellow]note: {note}[/yellow]")
    out.print(promoted, markup=False)


# -- atb models -----------------------------------------------------------------------------------------------


@click.group()
def models() -> None:
    """Trained models: list, show, promote, roll back, delete (atb train makes them)."""


@models.command("list")
@click.option("--symbol", help="Only this symbol.")
@click.option("--type", "model_type", type=click.Choice(MODEL_TYPES), help="Only this model type.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def models_list(ctx: click.Context, symbol: str | None, model_type: str | None, as_json: bool) -> None:
    """Registered versions (yours and the bundled ones), oldest first; * marks latest; Gate: the promotion
    gate's verdict (recorded at training, else computed from the metadata without backtests)."""
    if symbol is not None:
        symbol = check_symbol(symbol.upper())
    container = models_container(ctx)
    registry, promote = container.model_registry(), container.promote_model()
    rows = [model_row(i, promote.verdict_now(i)) for i in registry.list(symbol, model_type)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no models registered; train one with `atb train`")
        return
    table = Table(show_header=True, header_style="bold")
    for col in ("Symbol", "Type", "Version", "TF", "Registered (UTC)", "Test RMSE", "Dir. acc.", "Test return",
                "Buy & hold", "Gate"):  # fmt: skip
        table.add_column(col, justify="right" if col.startswith(("Test", "Dir", "Buy")) else "left")
    for r in rows:
        table.add_row(
            r["symbol"], r["type"], ("* " if r["latest"] else "  ") + r["version"], str(r["timeframe"] or "-"),
            _time(r["registered_ms"]), _num(r["test_rmse"]), _pct(r["test_directional_accuracy"]),
            _pct(r["test_total_return"]), _pct(r["test_buy_and_hold_return"]), str(r["gate"]),
        )  # fmt: skip
    console().print(table)


def print_metrics(out: Console, meta: dict[str, Any]) -> None:
    """Validation and test metrics next to the naive baselines, and the test-period backtest."""
    metrics = meta.get("metrics") or {}
    table = Table(show_header=True, header_style="bold", title="Prediction metrics (next-bar return)")
    for col in ("Split", "Metric", "Model", "Persistence", "Zero / always up"):
        table.add_column(col, justify="left" if col in ("Split", "Metric") else "right")
    for split in ("val", "test"):
        figures = metrics.get(split) or {}
        if not figures:
            continue
        label = "validation" if split == "val" else "test (out of sample)"
        model, persistence, zero = (figures.get(k) or {} for k in ("model", "persistence", "zero"))
        table.add_row(label, "RMSE", _num(model.get("rmse")), _num(persistence.get("rmse")), _num(zero.get("rmse")))
        accuracy = [_pct(f.get("directional_accuracy")) for f in (model, persistence, zero)]
        table.add_row("", "directional accuracy", *accuracy)
    out.print(table)
    backtest = meta.get("backtest") or {}
    if backtest:
        m = backtest.get("metrics") or {}
        span = backtest.get("range") or [None, None]
        bt = Table(
            show_header=True, header_style="bold",
            title=f"{backtest.get('strategy')} on the test period {_time(span[0])} → {_time(span[1])} UTC",
        )  # fmt: skip
        for col in ("Total return", "Buy & hold", "Sharpe", "Max drawdown", "Trades", "Time in market"):
            bt.add_column(col, justify="right")
        bt.add_row(_pct(m.get("total_return")), _pct(m.get("buy_and_hold_return")), _num(m.get("sharpe"), 2),
                   _pct(m.get("max_drawdown")), _num(m.get("trades"), 0), _pct(m.get("exposure_time")))  # fmt: skip
        out.print(bt)


def print_gate(out: Console, gate: Any) -> None:
    """The promotion gate's verdict, each check, and each stress window: tested (returns), or not and why."""
    if not isinstance(gate, dict):
        out.print("promotion gate: not evaluated (no verdict recorded)")
        return
    verdict = str(gate.get("verdict", "not evaluated"))
    colour = {"passed": "green", "failed": "red"}.get(verdict, "yellow")
    source = f" ({gate['source']})" if gate.get("source") else ""
    out.print(f"promotion gate: [bold {colour}]{verdict}[/bold {colour}]{source}, margin "
              f"{_pct(gate.get('margin'))}")  # fmt: skip
    for check in gate.get("checks") or []:
        passed = check.get("passed")
        mark = "not evaluated" if passed is None else ("pass" if passed else "FAIL")
        out.print(f"  {mark:<13} {check.get('name')}: {check.get('detail')}", markup=False, highlight=False)
    windows = gate.get("windows") or []
    if windows:
        table = Table(show_header=True, header_style="bold", title="Stress windows")
        for col in ("Window", "Dates (UTC)", "Status", "Return", "Reference", "Why / result"):
            table.add_column(col, justify="right" if col in ("Return",) else "left")
        for w in windows:
            tested = w.get("status") == "tested"
            result = ("pass" if w.get("passed") else "FAIL") if tested else str(w.get("reason", ""))
            reference = f"{_pct(w.get('reference_return'))} ({w.get('reference')})" if tested else "-"
            table.add_row(str(w.get("name")), f"{w.get('start')} → {w.get('end')}", str(w.get("status")),
                          _pct(w.get("total_return")) if tested else "-", reference, result)  # fmt: skip
        out.print(table)


@models.command("show")
@click.argument("symbol")
@click.argument("model_type", metavar="TYPE", type=click.Choice(MODEL_TYPES))
@click.argument("version", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def models_show(ctx: click.Context, symbol: str, model_type: str, version: str | None, as_json: bool) -> None:
    """A version (default: latest): data, splits, training, test metrics beside the baselines, its log."""
    ref = model_ref(symbol, model_type, version)
    container = models_container(ctx)
    registry = container.model_registry()
    info = registry.resolve(ref.symbol, ref.model_type, version)
    now = container.promote_model().verdict_now(info)
    described = describe_model(info, registry.history(info.ref.symbol, info.ref.model_type), now)
    if as_json:
        click.echo(json.dumps(jsonable(described), indent=2))
        return
    out = console()
    meta = info.metadata
    data = meta.get("data") or {}
    training = meta.get("training") or {}
    out.print(f"[bold]{info.ref}[/bold]{'  (latest)' if info.is_latest else ''}  {meta.get('timeframe', '')}  "
              f"registered {_time(info.registered_ms)} UTC")  # fmt: skip
    out.print(f"files: {info.path}")
    out.print(f"data: {_time(data.get('start_ms'))} → {_time(data.get('end_ms'))} UTC, {data.get('bars', '-')} bars, "
              f"sha256 {str(data.get('sha256', '-'))[:16]}…")  # fmt: skip
    for key, label in (("train_range", "train"), ("val_range", "validation"), ("test_range", "test")):
        count = (meta.get("windows") or {}).get(key.split("_")[0], "-")
        out.print(f"  {label:<10} {_range(meta, key)} UTC  ({count} windows)")
    out.print(f"features: {', '.join(info.schema.names)}  (window {info.schema.window}, normalised over "
              f"{info.schema.norm_window} bars)")  # fmt: skip
    hyper = meta.get("hyperparameters") or {}
    out.print("hyper-parameters: " + ", ".join(f"{k}={v}" for k, v in hyper.items()))
    out.print(f"training: {training.get('epochs_run', '-')} epochs, {training.get('seconds', math.nan):.1f} s on "
              f"{training.get('device', '-')}, ONNX max abs diff {training.get('onnx_max_abs_diff', math.nan):.2g}")
    versions = meta.get("package_versions") or {}
    out.print("packages: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    print_metrics(out, meta)
    print_gate(out, described["gate"])
    history = described["history"]
    if history:
        log = Table(show_header=True, header_style="bold", title="Registry log")
        for col in ("Time (UTC)", "Action", "Version", "Previous latest", "Reason"):
            log.add_column(col)
        for e in history:
            log.add_row(_time(e["at_ms"]), e["action"], e["version"], e["previous"] or "-", e["reason"])
        out.print(log)


@models.command("promote")
@click.argument("symbol")
@click.argument("model_type", metavar="TYPE", type=click.Choice(MODEL_TYPES))
@click.argument("version")
@click.option("--force", is_flag=True, help="Promote even if the version fails the promotion gate (logged as forced).")
@click.pass_context
def models_promote(ctx: click.Context, symbol: str, model_type: str, version: str, force: bool) -> None:
    """Make VERSION latest if it passes the promotion gate: out-of-sample metrics against the naive baselines,
    its strategy's test-period trades and return, and backtests on the stress windows out of sample for it."""
    ref = model_ref(symbol, model_type, version)
    err = console(stderr=True)
    update, close = status_line(err, err.is_terminal, "promotion gate")
    try:
        result = models_container(ctx).promote_model()(ref, force=force, progress=update)
    finally:
        close()
    for check in result.verdict.checks:
        click.echo(f"  {check.describe()}")
    for r in result.stress:
        click.echo(f"  {r.describe()}")
    forced = " (forced past the gate)" if force and not result.verdict.passed else ""
    click.echo(f"{result.info.ref} is now latest{forced} (was {result.previous or 'none'}): gate "
               f"{result.verdict.verdict}")  # fmt: skip


@models.command("rollback")
@click.argument("symbol")
@click.argument("model_type", metavar="TYPE", type=click.Choice(MODEL_TYPES))
@click.option("--reason", default="", help="Why (logged).")
@click.pass_context
def models_rollback(ctx: click.Context, symbol: str, model_type: str, reason: str) -> None:
    """Point latest back at the version it named before the last promotion."""
    ref = model_ref(symbol, model_type)
    registry = models_container(ctx).model_registry()
    info = rollback_model(registry, ref.symbol, ref.model_type, reason=reason or "rolled back with atb models rollback")
    click.echo(f"{info.ref} is latest again")


@models.command("delete")
@click.argument("symbol")
@click.argument("model_type", metavar="TYPE", type=click.Choice(MODEL_TYPES))
@click.argument("version")
@click.pass_context
def models_delete(ctx: click.Context, symbol: str, model_type: str, version: str) -> None:
    """Delete a version that is not latest (bundled versions cannot be deleted)."""
    ref = model_ref(symbol, model_type, version)
    delete_model(models_container(ctx).model_registry(), ref)
    click.echo(f"deleted {ref}")
