"""Check a strategy for look-ahead: the perturbation audit, the prefix check and the ``history_bars`` check
(:mod:`domain.strategies.audit`) on the bundled candles, with the report cached for user strategies.

``atb strategies check`` runs the full plan on every bundled series; ``atb backtest`` runs the fast plan on a
user strategy (not a built-in: the test suite checks those) and refuses a leaky one (:meth:`CheckStrategy.gate`).
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from application.ml import LOOK_AHEAD_PREFIX
from application.ports.check_cache import CheckCache
from application.ports.errors import ApplicationError, MarketDataUnavailable
from application.ports.market_data import MarketData
from domain.model.symbols import Symbol
from domain.strategies.audit import FAST, PLANS, CheckResult, run_checks
from domain.strategies.registry import BUILT_IN, Entry

UNCHECKED_NOTE = (
    LOOK_AHEAD_PREFIX + " {name} was not checked for look-ahead (--unchecked): its results may use future data"
)
"""The note (a warning, shown prominently: :func:`application.ml.is_warning`) of a user strategy run unchecked."""


class StrategyCheckError(ApplicationError):
    """A strategy raised an exception while it was being checked (a bug in the strategy, said in one line)."""


class LeakyStrategy(ApplicationError):
    """A user strategy failed a look-ahead check: ``atb backtest`` refuses it (``--unchecked`` to run anyway)."""


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class SeriesChecks:
    """The checks of one series: its symbol, timeframe, bar count and the three results."""

    symbol: str
    timeframe: str
    bars: int
    results: tuple[CheckResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "timeframe": self.timeframe, "bars": self.bars,
                "results": [r.to_dict() for r in self.results]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeriesChecks:
        results = tuple(CheckResult.from_dict(r) for r in data["results"])
        return cls(str(data["symbol"]), str(data["timeframe"]), int(data["bars"]), results)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``atb strategies check`` prints: the strategy, the plan (``fast``/``full``), each series' checks,
    whether it came from the cache, and how long the checks took (the original run's, for a cached report)."""

    strategy: str
    version: str
    params: dict[str, Any]
    origin: str
    source: str
    mode: str
    warmup: int
    history_bars: int
    series: tuple[SeriesChecks, ...]
    seconds: float
    cached: bool = False
    key: str = field(default="", compare=False)

    @property
    def passed(self) -> bool:
        return all(r.passed for s in self.series for r in s.results)

    def failures(self) -> list[tuple[SeriesChecks, CheckResult]]:
        return [(s, r) for s in self.series for r in s.results if not r.passed]

    def first_failure(self) -> str:
        """One line naming the first failed check, its series and first bar (empty when all passed)."""
        for s, r in self.failures():
            return (f"the {r.check} check failed on {s.symbol} {s.timeframe} at bar {r.bars[0]} "
                    f"({utc(r.times[0])} UTC), {r.failed} bars in all")  # fmt: skip
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "version": self.version, "params": self.params, "origin": self.origin,
            "source": self.source, "mode": self.mode, "warmup": self.warmup, "history_bars": self.history_bars,
            "passed": self.passed, "seconds": round(self.seconds, 3), "cached": self.cached,
            "series": [s.to_dict() for s in self.series],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cached: bool = False, key: str = "") -> CheckReport:
        return cls(
            str(data["strategy"]), str(data["version"]), dict(data["params"]), str(data["origin"]),
            str(data["source"]), str(data["mode"]), int(data["warmup"]), int(data["history_bars"]),
            tuple(SeriesChecks.from_dict(s) for s in data["series"]), float(data["seconds"]), cached, key,
        )  # fmt: skip


def cache_key(entry: Entry, params: Mapping[str, Any], version: str, mode: str, symbols: Sequence[str]) -> str:
    """The cache key of a check: the strategy file's sha256, the class, its parameters, atb's version, the
    plan and the series checked. Any change to one of them is a new check."""
    cls = entry.cls
    what = {
        "digest": entry.digest, "class": f"{cls.__module__}.{cls.__qualname__}", "name": entry.name,
        "params": {k: params[k] for k in sorted(params)}, "atb": version, "mode": mode, "symbols": list(symbols),
    }  # fmt: skip
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


class CheckStrategy:
    """Runs the checks of a strategy over the series of a ``MarketData`` source (the bundled candles).

    A report is cached (``cache``) only for a strategy read from a file (its ``Entry.digest``, the file's
    sha256, is part of the key): a built-in's checks are the test suite's.
    """

    def __init__(self, market_data: MarketData, cache: CheckCache | None = None, version: str = "") -> None:
        self._market_data = market_data
        self._cache = cache
        self._version = version

    def __call__(
        self,
        entry: Entry,
        params: Mapping[str, Any] | None = None,
        *,
        mode: str = "full",
        symbols: Sequence[Symbol] | None = None,
    ) -> CheckReport:
        """Check ``entry``'s strategy with ``params`` under plan ``mode`` (``fast``: the first series only;
        ``full``: every one) on ``symbols`` (None: every bundled symbol)."""
        plan = PLANS[mode]
        strategy = entry.cls(dict(params or {}))
        infos = self._market_data.datasets()
        if symbols:
            wanted = {str(s) for s in symbols}
            infos = [i for i in infos if str(i.symbol) in wanted]
            missing = sorted(wanted - {str(i.symbol) for i in infos})
            if missing:
                have = ", ".join(sorted({str(i.symbol) for i in self._market_data.datasets()}))
                raise MarketDataUnavailable(f"no candles for {', '.join(missing)} to check on; available: {have}")
        if not infos:
            raise MarketDataUnavailable("no candles to check the strategy on")
        if plan is FAST:
            infos = infos[:1]
        names = [f"{i.symbol}/{i.timeframe.value}" for i in infos]
        key = cache_key(entry, strategy.params, self._version, plan.name, names)
        use_cache = self._cache is not None and bool(entry.digest) and entry.origin != BUILT_IN
        if use_cache and self._cache is not None:
            found = self._cache.get(key)
            if found is not None:
                try:
                    return CheckReport.from_dict(found, cached=True, key=key)
                except (KeyError, TypeError, ValueError):
                    pass  # an old or damaged record: check again
        started = time.perf_counter()
        series = []
        for info in infos:
            candles = self._market_data.candles(info.symbol, info.timeframe)
            try:
                results = run_checks(strategy, candles, plan)
            except ApplicationError:
                raise
            except Exception as e:  # the strategy's own bug: one line naming it, not atb's traceback
                raise StrategyCheckError(_raised(entry, e, f"while checked on {info.symbol}")) from e
            series.append(SeriesChecks(str(info.symbol), info.timeframe.value, len(candles), tuple(results)))
        report = CheckReport(
            entry.name, entry.cls.version, dict(strategy.params), entry.origin, entry.source, plan.name,
            int(strategy.warmup), int(strategy.history_bars), tuple(series), time.perf_counter() - started,
            key=key,
        )  # fmt: skip
        if use_cache and self._cache is not None:
            self._cache.put(key, report.to_dict())
        return report

    def gate(self, entry: Entry, params: Mapping[str, Any] | None = None) -> CheckReport | None:
        """``atb backtest``'s gate: the fast checks of a user strategy (cached); raises :class:`LeakyStrategy`
        naming the failed check and bar. A built-in is not checked here (None)."""
        if entry.origin == BUILT_IN:
            return None
        report = self(entry, params, mode=FAST.name)
        if not report.passed:
            raise LeakyStrategy(
                f"{entry.name} looks ahead: {report.first_failure()}; see atb strategies check {entry.name}, "
                "or run with --unchecked"
            )
        return report


def _raised(entry: Entry, exc: BaseException, when: str) -> str:
    """One line for an exception a strategy's own code raised: ``file.py:23: ValueError: ... (raised by strategy
    NAME while ...)``, at the deepest line of the strategy's file when the traceback passes through it."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == entry.source and f.lineno]
    what = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    detail = f"{type(exc).__name__}: {what}" if what else type(exc).__name__
    where = f"{entry.source}:{lines[-1]}: " if lines and entry.source else ""
    return f"{where}{detail} (raised by strategy {entry.name} {when})"
