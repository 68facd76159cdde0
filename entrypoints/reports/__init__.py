"""Reports for people: the self-contained HTML backtest report."""

from __future__ import annotations

from pathlib import Path

from application.use_cases.run_backtest import BacktestReport


def write_html_report(report: BacktestReport, path: Path) -> None:
    """Write the self-contained HTML report of ``report`` to ``path`` (UTF-8, one file)."""
    from entrypoints.reports.html import render_html

    path.write_text(render_html(report), encoding="utf-8")
