"""A clock that follows the replayed bars."""

from __future__ import annotations


class SimulatedClock:
    """Reads the simulation's current time (UTC ms); the simulated broker moves it to each bar's close."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def set(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise ValueError(f"a simulated clock cannot go back ({now_ms} < {self._now})")
        self._now = now_ms
