"""The ``atb`` console script. It installs the interrupt handling before it imports anything else, so Ctrl-C at
any point, even while the command line is still being imported, is one line and exit 130 (docs/adr/0017).

Standard library only, and little of it: whatever this module imports runs before the handler is in place.
"""

from __future__ import annotations

import errno
import signal
import sys
from types import FrameType
from typing import Any

from entrypoints.cli.exits import Interrupted, OutputError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


class _GuardedStdout:
    """Standard output, its write errors marked as ``OutputError``; everything else passes through."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except OSError as e:
            raise _output_error(e) from e

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            raise _output_error(e) from e

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _output_error(error: OSError) -> OSError:
    if error.errno == errno.EPIPE or isinstance(error, OutputError):
        return error
    return OutputError(error.errno, error.strerror or str(error))


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def interrupted() -> None:
    """Ignore further Ctrl-C, say so in one line, exit 130."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stderr.write("error: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_INTERRUPTED)


def run() -> None:
    """``atb``: the command line with Ctrl-C handled from the first instruction to the last."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the caller ignores SIGINT
        signal.signal(signal.SIGINT, _raise_interrupted)
    # A reader that went away (`atb ... | head`) ends atb as it ends any Unix tool: quietly, by SIGPIPE (the shell
    # reports 141). Python ignores SIGPIPE, and then click and rich each exit 1 or 0 in their own way. The
    # database drivers never raise it (libpq blocks it; SQLite has no socket).
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if sys.stdout is not None:
        sys.stdout = _GuardedStdout(sys.stdout)
    try:
        from entrypoints.cli.main import main

        main()
    except (Interrupted, KeyboardInterrupt):
        interrupted()
    finally:
        # the work is done and its exit code decided: a late Ctrl-C must not turn it into a traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    run()
