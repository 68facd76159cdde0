"""Market sentiment (the Fear & Greed index in [M5])."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt


class Sentiment(Protocol):
    """Daily sentiment values aligned to bar open times.

    ``values_at`` returns, for each open time (UTC ms), the latest value published strictly before that
    bar's day began (a day's index is known only the next day), NaN where none is known. 0..100 scale.
    """

    def values_at(self, open_times: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]: ...
