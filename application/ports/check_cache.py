"""Where the results of strategy checks are kept between runs (``atb backtest`` gates a user strategy on them)."""

from __future__ import annotations

from typing import Any, Protocol


class CheckCache(Protocol):
    """Check reports by key (a hex digest of what was checked: the strategy file's sha256, class, parameters,
    atb version and mode; see :mod:`application.use_cases.check_strategy`).

    ``get`` returns the stored JSON-able dict, or None when the key is absent or its record unreadable (a cache
    never fails a run). ``put`` stores or overwrites it; the same key and value any number of times is one record.
    """

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...
