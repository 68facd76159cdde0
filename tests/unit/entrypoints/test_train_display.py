"""``atb train``'s progress on stderr: the epoch bar knows its total before the first epoch ends; the phase
status line follows the phases; without a terminal only one line per epoch."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from entrypoints.cli.models import TrainDisplay, status_line


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120), buffer


def test_the_epoch_total_is_known_from_the_start() -> None:
    out, _ = _terminal()
    display = TrainDisplay(out, enabled=True, epochs=30)
    try:
        assert display.progress is not None
        (bar,) = display.progress.tasks
        assert bar.total == 30 and bar.completed == 0 and bar.fields["count"] == "epoch 0/30"
        display.phase("training", "1000 windows")
        display.epoch(1, 30, {"loss": 0.5, "val_loss": 0.6})
        assert bar.total == 30 and bar.completed == 1 and bar.fields["count"] == "epoch 1/30"
    finally:
        display.close()


def test_the_status_line_names_each_phase() -> None:
    out, buffer = _terminal()
    display = TrainDisplay(out, enabled=True, epochs=2)
    assert display.progress is not None
    (line,) = display.progress.tasks
    for phase, text in (("export", "exporting to ONNX"), ("parity", "checking ONNX parity"),
                        ("stress backtests", "stress backtests")):  # fmt: skip
        display.phase(phase, "detail")
        assert line.description == f"{text}: detail"
    display.close()
    assert "epoch" in buffer.getvalue()


def test_without_a_terminal_one_line_per_epoch_and_no_phases(capsys: pytest.CaptureFixture[str]) -> None:
    display = TrainDisplay(Console(file=io.StringIO()), enabled=False, epochs=3)
    display.phase("export")
    display.epoch(1, 3, {"loss": 0.25})
    display.close()
    assert capsys.readouterr().err == "epoch 1/3  loss 0.25\n"


def test_the_promotion_status_line_is_quiet_without_a_terminal() -> None:
    buffer = io.StringIO()
    update, close = status_line(Console(file=buffer), False, "promotion gate")
    update("stress window 2018", 0, 2)
    close()
    assert buffer.getvalue() == ""
    out, shown = _terminal()
    update, close = status_line(out, True, "promotion gate")
    update("stress window 2018", 0, 2)
    close()
    assert "promotion gate" in shown.getvalue()
