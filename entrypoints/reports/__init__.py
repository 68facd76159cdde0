"""Reports for people: the self-contained HTML backtest report.

Reports are written atomically (ADR 0015): into a temporary file beside the target, flushed, then renamed onto
it with ``os.replace``; a failure at any point removes the temporary file and leaves the previous report whole.
A symlink is followed (the file it names is replaced, the link stays); a device or a pipe (``/dev/stdout``) is
written in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from application.use_cases.run_backtest import BacktestReport


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that a reader, or a crash, sees the old file or the new one whole."""
    target = Path(path).expanduser()
    if target.is_symlink():
        target = target.resolve()
    if target.exists() and not target.is_file():  # a device, a pipe: nothing to replace
        with open(target, "w", encoding="utf-8") as out:
            out.write(text)
        return
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if target.exists():  # keep the old file's permissions (mkstemp makes it 0600)
                os.fchmod(fd, target.stat().st_mode & 0o7777)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_html_report(report: BacktestReport, path: Path) -> None:
    """Write the self-contained HTML report of ``report`` to ``path`` (UTF-8, one file, atomically)."""
    from entrypoints.reports.html import render_html

    write_text_atomic(path, render_html(report))


def write_comparison_report(sides: Sequence[tuple[str, BacktestReport]], path: Path) -> None:
    """Write one self-contained HTML report of several labelled backtests on the same data to ``path``."""
    from entrypoints.reports.compare import render_comparison_html

    write_text_atomic(path, render_comparison_html(sides))
