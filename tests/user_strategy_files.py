"""Strategy files for the loader's tests: one good strategy and one file per way a file can be broken.

Each broken file marks the line its error must name with ``# <- here``; :func:`marked_line` finds it, so no
test hard-codes a line number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GOOD = '''"""A plain EMA crossover written against the public API."""

import numpy as np

from domain.strategies.api import CandleSeries, Context, Param, Signals, Strategy, crossings, ema


class SlowCross(Strategy):
    name = "slow_cross"
    version = "1.2.0"
    description = "EMA crossover for the loader tests"

    fast = Param(10, low=2, high=100, help="bars of the fast EMA")
    slow = Param(30, low=3, high=300, help="bars of the slow EMA")

    @property
    def warmup(self) -> int:
        return int(self.slow)

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        close = candles.close
        n = close.shape[0]
        up, down = crossings(ema(close, self.fast), ema(close, self.slow), self.warmup)
        no = np.zeros(n, dtype=np.bool_)
        return Signals(up, down, no, no.copy(), np.full(n, np.nan), np.full(n, 1.0), self.warmup)
'''

_HEAD = "from domain.strategies.api import Param, Strategy\n\n\n"
_SIGNALS = "\n    def signals(self, candles, context):\n        raise NotImplementedError\n"


@dataclass(frozen=True)
class Broken:
    """A broken strategy file: its text, and what its one-line error says after ``file:line: ``."""

    stem: str
    text: str
    says: str


BROKEN = [
    Broken("syntax_error", _HEAD + "class A(Strategy):\n    name = 'syntax_error'\n    fast = Param(3,  # <- here\n",
           "syntax error: '(' was never closed"),
    Broken("import_error", "import os\n\nimport no_such_module_for_atb  # <- here\n",
           "ModuleNotFoundError: No module named 'no_such_module_for_atb'"),
    Broken("raises_on_import", _HEAD + "def helper():\n    return 1 / 0  # <- here\n\n\nVALUE = helper()\n",
           "ZeroDivisionError: division by zero"),
    Broken("no_class", "import math\n\nVALUE = math.pi  # <- here (the first line: nothing to point at)\n",
           "no strategy class in this file"),
    Broken("missing_signals", _HEAD + "class NoSignals(Strategy):  # <- here\n    name = 'missing_signals'\n",
           "class NoSignals does not implement signals(candles, context)"),
    Broken("no_default", _HEAD + "class NoDefault(Strategy):\n    name = 'no_default'\n"
           "    period = Param(low=2, high=50)  # <- here\n" + _SIGNALS, "parameter period has no default"),
    Broken("bad_bounds", _HEAD + "class BadBounds(Strategy):\n    name = 'bad_bounds'\n"
           "    period = Param(20, low=50, high=2)  # <- here\n" + _SIGNALS,
           "parameter period: low (50) is above high (2)"),
    Broken("clash_builtin", _HEAD + "class Mine(Strategy):  # <- here\n    name = 'ema_trend'\n" + _SIGNALS,
           "strategy name 'ema_trend' is taken by the built-in strategy"),
    # sorted after good.py, which defines slow_cross first
    Broken("zz_clash_user", _HEAD + "class Again(Strategy):  # <- here\n    name = 'slow_cross'\n" + _SIGNALS,
           "strategy name 'slow_cross' is taken by the user strategy in"),
]  # fmt: skip


def marked_line(text: str) -> int:
    """The 1-based line holding ``# <- here`` (line 1 when the marker says there is nothing to point at)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if "# <- here" in line:
            return 1 if "nothing to point at" in line else number
    raise AssertionError("no marker")


def write_strategies(folder: Path, broken: list[Broken] | None = None) -> Path:
    """``folder`` with good.py and the broken files (all of them by default), plus files the loader skips."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.py").write_text(GOOD)
    for item in BROKEN if broken is None else broken:
        (folder / f"{item.stem}.py").write_text(item.text)
    (folder / "_helpers.py").write_text("raise RuntimeError('never imported')\n")
    (folder / "test_good.py").write_text("raise RuntimeError('never imported')\n")
    (folder / "notes.txt").write_text("not a strategy\n")
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "deeper.py").write_text("raise RuntimeError('never imported')\n")
    return folder
