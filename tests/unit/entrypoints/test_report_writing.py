"""Reports are written atomically (ADR 0015): a failure at any point leaves the previous file whole and no
temporary file behind; a symlink's target is replaced and the link kept."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from entrypoints import reports
from entrypoints.reports import write_text_atomic

NEW = "<!doctype html>" + "x" * 200_000


def _leftovers(folder: Path, keep: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - keep


def test_a_new_report_is_written_whole_with_the_usual_permissions(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "r.html", NEW)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == NEW
    assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == 0o644
    assert _leftovers(tmp_path, {"r.html"}) == set()


def test_a_replaced_report_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")
    target.chmod(0o640)
    write_text_atomic(target, NEW)
    assert target.read_text(encoding="utf-8") == NEW
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
def test_a_failure_mid_write_leaves_the_previous_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    target = tmp_path / "r.html"
    target.write_text("previous report")
    real_write = os.write

    def half_then_full_disk(fd: int, data: object) -> int:
        view = memoryview(data)  # type: ignore[arg-type]
        if len(view) > 1000:
            return real_write(fd, view[: len(view) // 2])  # half of it lands, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    if fail_at == "write":
        monkeypatch.setattr(reports.os, "write", half_then_full_disk)
    else:
        monkeypatch.setattr(reports.os, fail_at, fail)
    with pytest.raises(OSError):
        write_text_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_text() == "previous report"
    assert _leftovers(tmp_path, {"r.html"}) == set()


def test_an_interrupt_mid_write_leaves_the_previous_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.html"
    target.write_text("previous report")

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reports.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_text() == "previous report"
    assert _leftovers(tmp_path, {"r.html"}) == set()


def test_a_symlinked_report_replaces_the_file_it_names_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "r.html"
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    write_text_atomic(link, NEW)
    assert link.is_symlink() and real.read_text(encoding="utf-8") == NEW
    assert _leftovers(tmp_path / "real", {"r.html"}) == set()


def test_a_hard_linked_report_leaves_the_other_name_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")
    other = tmp_path / "other-name.html"
    os.link(target, other)
    write_text_atomic(target, NEW)
    assert target.read_text(encoding="utf-8") == NEW
    assert other.read_text() == "old"  # a new file took the name; the old one was not written through


def test_a_device_is_written_in_place(tmp_path: Path) -> None:
    write_text_atomic(Path(os.devnull), NEW)  # not replaced by a regular file (root could): written in place
    assert Path(os.devnull).is_char_device()
    assert not list(Path(os.devnull).parent.glob(".null.*"))
