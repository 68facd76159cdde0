"""Candle timeframes and their annualisation (crypto trades 365 days a year, around the clock)."""

from __future__ import annotations

from enum import Enum

from domain.model.errors import DomainError

_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SECONDS_PER_YEAR = 365 * 86400


class Timeframe(Enum):
    """A candle length, written the exchange way (``1h``, ``4h``, ``1d``)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"
    W1 = "1w"

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """Parse ``1h``; an unknown value raises :class:`DomainError` naming the valid ones."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            valid = ", ".join(t.value for t in cls)
            raise DomainError(f"unknown timeframe {text!r}; valid: {valid}") from None

    @property
    def seconds(self) -> int:
        """Length of one bar in seconds."""
        return int(self.value[:-1]) * _UNIT_SECONDS[self.value[-1]]

    @property
    def milliseconds(self) -> int:
        """Length of one bar in milliseconds (the unit of candle timestamps)."""
        return self.seconds * 1000

    @property
    def periods_per_year(self) -> float:
        """Bars in a 365-day year: the annualisation factor for per-bar returns."""
        return SECONDS_PER_YEAR / self.seconds
