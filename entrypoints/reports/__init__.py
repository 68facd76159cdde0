"""Reports for people: the self-contained HTML backtest report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from application.use_cases.run_backtest import BacktestReport


def write_html_report(report: BacktestReport, path: Path) -> None:
    """Write the self-contained HTML report of ``report`` to ``path`` (UTF-8, one file)."""
    from entrypoints.reports.html import render_html

    path.write_text(render_html(report), encoding="utf-8")


def write_comparison_report(sides: Sequence[tuple[str, BacktestReport]], path: Path) -> None:
    """Write one self-contained HTML report of several labelled backtests on the same data to ``path``."""
    from entrypoints.reports.compare import render_comparison_html

    path.write_text(render_comparison_html(sides), encoding="utf-8")
