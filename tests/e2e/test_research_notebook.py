"""docs/research.ipynb runs, top to bottom, in a fresh kernel of this interpreter, and says what the research
API says when called here: a notebook in docs/ cannot rot."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

import adapters.files
import entrypoints.research
from entrypoints.research import backtest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "docs" / "research.ipynb"
BUNDLED = Path(adapters.files.__file__).parent / "bundled"


def _texts(notebook: nbformat.NotebookNode) -> list[str]:
    """Every output of every code cell as text (streams and the plain-text form of results)."""
    out = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                out.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                out.append(output.data.get("text/plain", ""))
            elif output.output_type == "error":
                out.append(f"ERROR {output.ename}: {output.evalue}")
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> str:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("notebook")
    # The kernel is this venv's python, importing this checkout (as the test does), in an empty folder.
    client = NotebookClient(notebook, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(workdir)}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATB_")}
    client.execute(env=env)
    return "\n".join(_texts(notebook))


def test_the_notebook_runs_in_this_interpreter(executed: str) -> None:
    assert "ERROR" not in executed
    (python,) = re.findall(r"^python: (.+)$", executed, flags=re.MULTILINE)
    assert Path(python).resolve() == Path(sys.executable).resolve()
    assert Path(entrypoints.research.__file__).resolve().is_relative_to(ROOT)


def test_the_notebook_reports_what_the_function_returns(executed: str) -> None:
    direct = backtest("ema_trend", symbol="BTCUSDT", start="2020-01-01", end="2021-01-01")
    (trades,) = re.findall(r"^trades: (\d+)$", executed, flags=re.MULTILINE)
    assert int(trades) == len(direct.trades) > 0
    assert repr(direct) in executed  # the result's summary line, with its total return
    (frame_trades, bars) = re.findall(r"^frame trades: (\d+) on (\d+) bars of 4h$", executed, flags=re.MULTILINE)[0]
    hourly = pd.read_csv(BUNDLED / "ETHUSDT-1h.csv.gz")
    hourly.index = pd.to_datetime(hourly.pop("open_time_ms"), unit="ms", utc=True)
    ohlcv = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    four_hours = hourly.resample("4h").agg(ohlcv).dropna()
    eth = backtest("ema_trend", four_hours, symbol="ETHUSDT", params={"fast": 20, "slow": 100})
    assert (int(frame_trades), int(bars)) == (len(eth.trades), eth.report.bars)
    assert int(frame_trades) > 0
    assert "refused: DataFrame (ETHUSDT), row 1" in executed and "timestamp goes backwards" in executed
    assert "html report written: ema_trend.html True" in executed
    assert "'equity_curve'" in executed


def test_the_stored_notebook_carries_no_outputs() -> None:
    # outputs would hold the paths of the machine that ran it; the docs show the code, the test its results
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    assert notebook.metadata.kernelspec.name == "python3"
