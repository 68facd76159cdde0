"""A Donchian breakout: the worked example of docs/strategy-api.md (the test suite loads and runs this file)."""

from __future__ import annotations

import numpy as np

from domain.strategies.api import (
    CandleSeries,
    Context,
    ExitRules,
    Extras,
    InvalidParameter,
    Param,
    Signals,
    Strategy,
    atr,
    donchian,
)


class DonchianBreakout(Strategy):
    """Buy a close above the highest high of the previous `period` bars; sell a close below the lowest low
    of the previous `exit_period` bars. An ATR stop protects each entry and trails behind the highs."""

    name = "donchian_breakout"  # how the CLI and saved sessions call it: unique, lowercase
    version = "1.0.0"  # bump the major version when a parameter changes meaning
    description = "close above the N-bar high, out below the M-bar low, trailing ATR stop"

    # Parameters: a default, bounds (an optimiser searches inside them) and a line of help.
    period = Param(55, low=5, high=500, help="bars of the entry channel")
    exit_period = Param(20, low=2, high=500, help="bars of the exit channel")
    atr_period = Param(14, low=1, high=200, help="bars of the ATR")
    atr_stop = Param(3.0, low=0.5, high=20.0, help="stop distance in ATRs below the deciding close")
    risk = Param(0.01, low=0.001, high=0.05, help="equity lost if the stop is hit (the fixed_risk sizer)")

    def validate(self) -> None:
        """Rules between parameters; single-parameter bounds are already checked."""
        if self.exit_period >= self.period:
            raise InvalidParameter(f"exit_period ({self.exit_period}) must be below period ({self.period})")

    @property
    def warmup(self) -> int:
        """No decision before the channels and the ATR exist."""
        return max(int(self.period), int(self.atr_period)) + 1

    @property
    def history_bars(self) -> int:
        """Channels are exact after `period` bars; Wilder's ATR forgets its seed within ~40 periods."""
        return int(self.period) + 40 * int(self.atr_period)

    def extras(self) -> Extras:
        """Size each entry so that a stop-out loses `risk` of equity, and cap one position at 100%."""
        return Extras(sizer="fixed_risk", sizer_params={"risk_per_trade": self.risk, "max_fraction": 1.0})

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        n = len(candles)
        close = candles.close
        entry_high = donchian(candles.high, candles.low, self.period).upper
        exit_low = donchian(candles.high, candles.low, self.exit_period).lower
        # Compare with the PREVIOUS bar's channel: the current bar's high is part of its own channel.
        previous_high = np.concatenate(([np.nan], entry_high[:-1]))
        previous_low = np.concatenate(([np.nan], exit_low[:-1]))
        with np.errstate(invalid="ignore"):  # NaN during the warm-up compares False
            long_entry = close > previous_high
            long_exit = close < previous_low
        long_entry[: self.warmup] = False
        long_exit[: self.warmup] = False
        ranges = atr(candles.high, candles.low, close, self.atr_period)
        no = np.zeros(n, dtype=np.bool_)
        return Signals(
            long_entry=long_entry,
            long_exit=long_exit,
            short_entry=no,
            short_exit=no.copy(),
            stop_distance=ranges * self.atr_stop,  # price units below the deciding close
            size=np.ones(n),  # the sizer decides the size from the stop (see extras)
            warmup=self.warmup,
            exits=ExitRules(trailing_atr=self.atr_stop),  # the stop follows atr_stop x ATR below each high
            atr=ranges,
        )
