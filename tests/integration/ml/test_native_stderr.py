"""The trainer keeps TensorFlow's C++ notes (written straight to file descriptor 2) off the terminal, keeps
Python's own stderr (progress lines) visible, and shows what it caught when training fails."""

from __future__ import annotations

import os
import sys

import pytest

from adapters.training.keras_trainer import _native_stderr_captured


def test_native_writes_are_caught_and_python_stderr_still_shows(capfd: pytest.CaptureFixture[str]) -> None:
    with _native_stderr_captured():
        os.write(2, b"I0000 oneDNN custom operations are on\n")
        print("epoch 1/2", file=sys.stderr)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "oneDNN" not in err
    assert "epoch 1/2" in err and "after" in err


def test_what_was_caught_is_shown_when_training_fails(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError, match="boom"), _native_stderr_captured():
        os.write(2, b"E0000 the kernel that failed\n")
        raise RuntimeError("boom")
    assert "E0000 the kernel that failed" in capfd.readouterr().err
