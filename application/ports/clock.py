"""Time. The domain never reads a clock; the application asks this port."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """The current time in UTC milliseconds. A simulated clock follows the replayed bars."""

    def now_ms(self) -> int: ...
