"""What the console script (``entry.py``) and ``main()`` share about ending: the exceptions for Ctrl-C and for a
standard output that refuses writes (docs/adr/0017-exit-contract.md). Standard library only."""

from __future__ import annotations


class Interrupted(BaseException):
    """Ctrl-C (SIGINT). Not a ``KeyboardInterrupt``: click turns that into an ``Abort`` after printing a blank
    line, and prompts swallow it; like ``KeyboardInterrupt`` it is no ``Exception``, so ``except Exception``
    cleanups let it through while ``finally`` blocks (rollbacks, temporary files) still run."""


class OutputError(OSError):
    """Standard output refused what was written (``> /dev/full``, a full disk, a dead terminal): said in one line
    as such, not as an anonymous ``No space left on device``. A closed pipe stays a ``BrokenPipeError``."""
