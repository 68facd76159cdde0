"""The one engine loop. Backtests, paper and live trading all run bars through :meth:`Engine.process_bar`.

A backtest calls :meth:`Engine.run`, which visits only the bars where something can happen (a signal, an
order the broker can fill, a trailing stop that must move before it is hit) and marks equity in between
with whole-array arithmetic (deferred: spans written in one pass, and trades' MFE/MAE computed in one pass,
before ``run`` returns); a live session calls ``process_bar`` for each closed candle, which marks and
builds trades at once. Decisions taken
at bar ``t``'s close become orders that the broker can fill from bar ``t + 1`` on: no fill ever uses a
price that was not yet known. Visiting a bar that did not need it never changes a result (tested).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Protocol, cast

import numpy as np

from application.batch import collector_paused
from application.order_ids import ENTRY, EXIT, STOP, order_id, session_key, symbol_key
from application.ports.clock import Clock
from application.ports.errors import ConfigurationError, OrderRejected
from application.ports.simulation import Broker, ReplayAccount, ReplayOutcome, SignalReplay
from application.snapshots import (
    Snapshot,
    check_schema,
    num,
    position_from_json,
    position_to_json,
    symbol_of,
    unnum,
)
from application.tape import Bar, DecisionRow, Tape
from domain.model.candles import BoolArray, CandleSeries, FloatArray, IntArray
from domain.model.market import MarketFrame, reduce_spans
from domain.model.orders import Fill, OrderRequest, OrderType, Side
from domain.model.portfolio import Portfolio
from domain.model.positions import ZERO, Position
from domain.model.symbols import Instrument, Symbol
from domain.model.trades import Direction, Trade, excursions, long_excursions
from domain.regime.types import Regime
from domain.risk import (
    AccountView,
    BreakerState,
    EntryProposal,
    PositionSizer,
    RiskEvent,
    RiskManager,
    rolling_correlation,
    rule_of,
    simple_returns,
)
from domain.risk.breaker import MAX_DRAWDOWN, RESET, TRIP, drawdown_from, reset_due_ms
from domain.strategies.base import ExitRules, Signals

ProgressCallback = Callable[[int, int], None]
_CENT = Decimal("0.01")
_MAX_ORDER = 1e24  # a quote amount quantized to the cent keeps within Decimal's 28 digits
_STOP_TAGS = ("stop_loss", "trailing_stop")
_LONG, _SHORT = Direction.LONG, Direction.SHORT
_NO_SHORTS = "short entry signal ignored: this account does not allow short selling"
_BUY, _SELL = Side.BUY, Side.SELL  # module aliases: an Enum member read through its class is slow per event
ENGINE_SNAPSHOT_SCHEMA = 1  # Engine.snapshot's layout; a change that old snapshots cannot be read under bumps it


@dataclass(frozen=True, slots=True)
class Denial:
    """A decision the engine did not carry out in full, with the reason (recorded, shown in reports).

    ``action`` is ``denied`` (nothing was sent) or ``reduced`` (sent, smaller than the strategy asked).
    ``rule`` names what decided: a risk rule (``max_drawdown``, ``max_risk_per_trade``, ``correlation``,
    ``sizer`` ...: the prefix of its reason), ``venue`` (the broker or exchange refused the order) or
    ``engine`` (the engine's own checks: no shorts, below the minimum order, an entry still waiting ...).
    """

    time_ms: int
    symbol: str
    reason: str
    action: str = "denied"
    rule: str = "engine"


class RegimeLookup(Protocol):
    """A symbol's regime at each of its own bars (None during the detector's warm-up)."""

    def at(self, i: int) -> Regime | None: ...


class _GrownRegimes:
    """A symbol's regime lookup over the bars an engine was built with, and the regimes appended after them."""

    __slots__ = ("appended", "base", "known")

    def __init__(self, base: RegimeLookup, known: int) -> None:
        self.base = base
        self.known = known  # the symbol's own bars the base lookup covers
        self.appended: list[Regime | None] = []

    def at(self, i: int) -> Regime | None:
        return self.base.at(i) if i < self.known else self.appended[i - self.known]


_DAY_MS = 86_400_000
# A closed trade's fields before its excursions (MFE, MAE), in Trade's order.
_TradeFields = tuple[Symbol, Direction, int, int, float, float, float, float, float, str, float]
_FLUSH_BARS = 1 << 16  # deferred marking is written out at least every this many bars (bounded temporaries)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Portfolio rules the loop enforces. Exposures are fractions of equity (notional / equity)."""

    allow_short: bool = False
    max_entries: int = 1  # entries into one position; above 1 allows scale-ins
    max_symbol_exposure: float | None = None  # None: max_gross_exposure shared equally by the symbols
    max_gross_exposure: float = 1.0  # above 1 only on a leveraged account

    def __post_init__(self) -> None:
        if self.max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1")
        if not self.max_gross_exposure > 0:
            raise ConfigurationError("max_gross_exposure must be positive")
        if self.max_symbol_exposure is not None and not self.max_symbol_exposure > 0:
            raise ConfigurationError("max_symbol_exposure must be positive")


@dataclass(slots=True)
class PositionBook:
    """What the loop remembers about one symbol's open position between bars."""

    entries: int = 0
    entry_time: int = 0
    entry_row: int = 0
    entry_price: float = math.nan  # first fill's price (break-even reference)
    open_fees: Decimal = ZERO  # entry fees of the open quantity not yet charged to a closed trade
    open_slippage: Decimal = ZERO
    stop_level: float = math.nan  # the stop in force (attached or managed), NaN when none
    stop_initial: float = math.nan  # the stop attached to the first entry (reported on the trades)
    stop_seen: int = -1  # last bar whose close has been folded into the managed stop
    # Times the managed stop has tightened, counted bar by bar however the bars were visited: the revision
    # in the stop order's id (application/order_ids.py), so a restored run names the next move the same.
    stop_revision: int = 0


@dataclass(slots=True)
class EngineState:
    """Everything the loop carries from one bar to the next; small, so a live session can persist it.

    Cash and positions are exact and change only on fills (kept mutable here: one new ``Position`` per
    fill, no copies of the whole account).
    """

    quote: str
    cash: Decimal
    positions: dict[Symbol, Position]
    books: list[PositionBook]
    last_index: int = -1
    breaker: BreakerState = BreakerState()  # noqa: RUF009  (the drawdown breaker's memory; immutable)

    @property
    def portfolio(self) -> Portfolio:
        return Portfolio(self.quote, self.cash, dict(self.positions))

    def position(self, symbol: Symbol) -> Position:
        return self.positions.get(symbol) or Position(symbol)


@dataclass(frozen=True, slots=True, eq=False)
class EngineResult:
    """What a run produced: equity, gross exposure and the cash balance at every bar's close, trades, fills,
    denials."""

    equity: FloatArray
    exposure: FloatArray
    trades: list[Trade]
    fills: list[Fill]
    denials: list[Denial]
    portfolio: Portfolio
    cash: FloatArray
    fees_paid: float  # every fill's fee, quote currency (exact sum, then rounded)
    slippage_paid: float  # every fill's slippage cost, quote currency
    risk_events: list[RiskEvent] = dataclasses.field(default_factory=list)  # breaker trips and resets


class Engine:
    """Turns signals into orders through a :class:`Broker`, and fills into positions and trades."""

    def __init__(
        self,
        market: CandleSeries | MarketFrame,
        signals: Signals | Sequence[Signals],
        broker: Broker,
        clock: Clock,
        initial_cash: Decimal,
        run_id: str = "bt",
        allow_short: bool = False,
        config: EngineConfig | None = None,
        *,
        sizer: PositionSizer | None = None,
        risk: RiskManager | None = None,
        regimes: Sequence[RegimeLookup | None] | None = None,
        correlation_window: int = 0,
        signal_replay: bool = True,
    ) -> None:
        frame = market if isinstance(market, MarketFrame) else MarketFrame.align([market])
        sigs = [signals] if isinstance(signals, Signals) else list(signals)
        if len(sigs) != frame.width:
            raise ConfigurationError(f"{len(sigs)} signal sets for {frame.width} symbols")
        self.frame = frame
        self.broker = broker
        self.clock = clock
        self.run_id = run_id
        # Order ids are derived from the decision (application/order_ids.py): the session and symbol parts
        # once here, the bar's open time and the intent per order.
        self._id_session = session_key(run_id)
        self._id_symbols = [symbol_key(s) for s in frame.symbols]
        self.config = config or EngineConfig(allow_short=allow_short)
        n, k = len(frame), frame.width
        self._symbols = frame.symbols
        self._names = [str(s) for s in frame.symbols]
        self._column = {s: j for j, s in enumerate(frame.symbols)}
        self._instruments: list[Instrument] = [broker.instrument(s) for s in frame.symbols]
        self._exits: list[ExitRules] = [s.exits for s in sigs]
        # The bars and decision rows stepped over (application/tape.py): filled once here from the frame and the
        # signals (their own arrays, or the signals scattered on the frame's rows), grown by append().
        self.tape = Tape(frame, sigs)
        self._identity = self.tape.identity  # the symbol's own row i is the frame's row i
        self._n = 0
        self._bind()
        self._events = np.flatnonzero(self._any_signal)
        self._events_n = n
        # Per-symbol constants read on every decision and visit, looked up once here.
        self._manages = [e.manages_stop for e in self._exits]
        self._min_notional = [float(ins.min_notional) for ins in self._instruments]
        cfg = self.config
        # What one symbol may hold, as a fraction of equity (the gross cap shared evenly unless set).
        self._symbol_cap = (
            cfg.max_symbol_exposure
            if cfg.max_symbol_exposure is not None
            else cfg.max_gross_exposure / len(self._symbols)
        )
        self.state = EngineState(frame.symbols[0].quote, initial_cash, {}, [PositionBook() for _ in range(k)])
        self._cash = float(initial_cash)
        self._qty = [0.0] * k
        self._held: list[int] = []
        self._equity_buf = np.full(n, np.nan)
        self._exposure_buf = np.full(n, np.nan)
        self.equity: FloatArray = self._equity_buf
        self.exposure: FloatArray = self._exposure_buf
        # run() defers the marking of skipped bars: spans (first, stop, cash, quantity, column or -1 when
        # flat) written in one vectorised pass before anything reads the equity curve (see _flush_marks).
        self._defer = False
        self._spans: list[tuple[int, int, float, float, int]] = []
        self._span_bars = 0
        self._spans_folded = 0  # spans already folded into the peak equity
        # run() also defers the trades' excursions: (column, entry row, exit row, Trade fields before them).
        self._pending_trades: list[tuple[int, int, int, _TradeFields, tuple[float, float]]] = []
        self.trades: list[Trade] = []
        self.fills: list[Fill] = []
        self.denials: list[Denial] = []
        self._attached_stops: dict[str, Decimal] = {}  # entry id -> its stop, for stops managed later
        self._entry_stops: dict[str, float] = {}  # entry id -> its attached stop (what the trades report)
        # Risk: the sizer and the manager see the account through an AccountView at each entry decision.
        self._sizer = sizer
        self._risk = risk
        self._regimes: list[RegimeLookup | None] = list(regimes) if regimes is not None else [None] * k
        self._initial_cash = float(initial_cash)
        # The cash balance after each fill and the bar of that fill (the cash curve is built from them).
        self._cash_rows: list[int] = []
        self._cash_after: list[float] = []
        self._fees_paid = self._slippage_paid = ZERO  # over every fill
        self._peak = float(initial_cash)  # highest equity marked so far (kept only with a sizer or risk)
        self._tracks_peak = sizer is not None or risk is not None
        self._day = self._first_of_day = -1
        self._bar_ms = frame.timeframe.milliseconds
        self._equity_at: Callable[[int], float] | None = None  # during a venue's replay: its equity at a bar
        self._equity_max: Callable[[int, int], float] | None = None  # ... and its highest over bars a..b
        # The drawdown breaker (on with a risk manager whose max_drawdown > 0): its trips and resets, and the
        # last bar folded into its own peak after a reset.
        self.risk_events: list[RiskEvent] = []
        self._breaker_on = risk is not None and risk.limits.max_drawdown > 0
        self._breaker_limit = risk.limits.max_drawdown if risk is not None else 0.0
        self._breaker_seen = -1
        self._wins = self._losses = 0
        self._win_sum = self._loss_sum = 0.0
        self._correlations: dict[tuple[int, int], FloatArray] = {}
        self._committed: dict[int, float] = {}  # exposure promised to entries not filled yet (see _decide)
        # Entry orders sent and not filled yet (client order id -> column, side, budget): a market order
        # waits through zero-volume bars, and signals on those bars must count it.
        self._waiting: dict[str, tuple[int, Side, float]] = {}
        self._signal_replay = signal_replay  # run() may hand the replay to the venue (see _replayable)
        self._correlation_window = correlation_window if risk is not None and k > 1 else 0
        self._correlated = n  # rows whose correlations were computed here (later rows: from their trailing window)
        if risk is not None and correlation_window > 1 and k > 1:
            returns = {j: simple_returns(self._marks[j]) for j in range(k)}
            for first in range(k):
                for second in range(first + 1, k):
                    corr = rolling_correlation(returns[first], returns[second], correlation_window)
                    self._correlations[(first, second)] = self._correlations[(second, first)] = corr

    # -- the tape: binding its rows, appending one -----------------------------------------------------
    def _bind(self) -> None:
        """Read the tape's first ``n`` rows through views (again after each append: a growth moves them)."""
        tape = self.tape
        self._n = tape.n
        self._times: IntArray = tape.times()
        k = tape.width
        columns = [tape.decisions(j) for j in range(k)]
        self._le: list[BoolArray] = [c[0] for c in columns]
        self._lx: list[BoolArray] = [c[1] for c in columns]
        self._se: list[BoolArray] = [c[2] for c in columns]
        self._sx: list[BoolArray] = [c[3] for c in columns]
        self._stop: list[FloatArray] = [tape.stop_distance(j) for j in range(k)]
        self._size: list[FloatArray] = [tape.size(j) for j in range(k)]
        self._atr: list[FloatArray | None] = [tape.atr(j) for j in range(k)]
        self._confidence: list[FloatArray | None] = [tape.confidence(j) for j in range(k)]
        self._any_signal: BoolArray = tape.any_signal()
        self._cols: list[FloatArray] = [tape.column("close", j) for j in range(k)]
        self._marks: list[FloatArray] = [tape.column("mark", j) for j in range(k)]
        self._highs: list[FloatArray] = [tape.column("high", j) for j in range(k)]
        self._lows: list[FloatArray] = [tape.column("low", j) for j in range(k)]

    def append(
        self,
        open_time: int,
        bars: Sequence[Bar | None],
        decisions: Sequence[DecisionRow | None],
        regimes: Sequence[Regime | None] | None = None,
    ) -> int:
        """A live driver's step, before :meth:`process_bar`: the closed candle of each symbol that opened at
        ``open_time`` (None: no bar) and the strategy's decision at its close (computed on the trailing
        ``history_bars`` window); returns the new row. The venue gets its bars from the driver (a simulation
        must already hold this one). An engine built with regime lookups takes each symbol's regime at the new
        bar too (``regimes``, in the symbols' order); correlations of later rows come from their trailing window
        (see :meth:`_correlation`)."""
        if self._defer:
            raise ConfigurationError("bars are appended between steps, not during run()")
        lookups = self._regimes
        needs = [j for j, lookup in enumerate(lookups) if lookup is not None and j < len(bars) and bars[j] is not None]
        if needs and (regimes is None or len(regimes) != len(lookups)):
            raise ConfigurationError("this engine checks regimes: append each symbol's regime at the new bar")
        row = self.tape.append(open_time, bars, decisions)
        for j in needs:
            lookup = lookups[j]
            if not isinstance(lookup, _GrownRegimes):
                lookup = lookups[j] = _GrownRegimes(cast(RegimeLookup, lookup), self.tape.rows(j).shape[0] - 1)
            lookup.appended.append(cast(Sequence[Regime | None], regimes)[j])
        self._identity = self.tape.identity
        capacity = self._equity_buf.shape[0]
        if row >= capacity:
            grown = max(2 * capacity, 64)
            for name in ("_equity_buf", "_exposure_buf"):
                old = getattr(self, name)
                buf = np.full(grown, np.nan)
                buf[: old.shape[0]] = old
                setattr(self, name, buf)
        self._bind()
        self.equity = self._equity_buf[: self._n]
        self.exposure = self._exposure_buf[: self._n]
        return row

    def _correlation(self, j: int, h: int, i: int) -> float:
        """The rolling correlation of symbols ``j`` and ``h``'s returns at row ``i``: computed once over the
        rows the engine was built with, and from the trailing window for rows appended later (the same
        formula; the last bits differ, as the whole-array one centres on the whole history's means)."""
        if i < self._correlated:
            return float(self._correlations[(j, h)][i])
        window = self._correlation_window
        first = max(i - window, 0)
        a = simple_returns(self._marks[j][first : i + 1])
        b = simple_returns(self._marks[h][first : i + 1])
        return float(rolling_correlation(a, b, window)[-1]) if a.shape[0] > window else math.nan

    # -- the per-bar step, shared by every mode -------------------------------------------------------
    def process_bar(self, i: int) -> None:
        """Bar ``i`` has closed: take the broker's fills during it, mark equity at its close, manage
        stops, decide."""
        fills = self.broker.process_bar(i)
        if fills:
            for fill in fills:
                self._on_fill(fill, i)
        rejections = self.broker.take_rejections()
        if rejections:
            for rejected in rejections:
                request = rejected.request
                self._deny(request.symbol, f"{request.tag or 'order'} rejected: {rejected.reason}", rule="venue")
        self.state.last_index = i
        equity, gross = self._mark(i)
        self.equity[i] = equity
        self.exposure[i] = gross / equity if equity > 0 else math.nan
        if equity > self._peak and self._tracks_peak:  # False for NaN, as fmax skips it
            self._peak = equity
        for j in self._held:
            if self._manages[j]:
                self._move_stop(j, i)
        if self._any_signal.item(i):
            self._decide(i, equity, gross)

    def run(self, start: int = 0, progress: ProgressCallback | None = None) -> EngineResult:
        """Replay bars ``start..end``, visiting only those where something can happen."""
        n = self._n
        with collector_paused():
            if self._replayable(start):
                self._replay_signals(start, progress)
            else:
                if self._events_n != self._n:  # bars appended since the events were found
                    self._events = np.flatnonzero(self._any_signal)
                    self._events_n = self._n
                events = self._events
                report_every = max(n // 100, 50_000)
                event_list = events.tolist()
                k = int(np.searchsorted(events, start, side="left"))
                self._defer = True
                try:
                    self._replay(start, k, n, event_list, report_every, start + report_every, progress)
                finally:
                    self._defer = False
                    self._flush_marks()
                    self._settle_trades()
            if progress is not None:
                progress(n, n)
            return self.result()

    def _replay(
        self,
        i: int,
        k: int,
        n: int,
        event_list: list[int],
        report_every: int,
        next_report: int,
        progress: ProgressCallback | None,
    ) -> None:
        n_events = len(event_list)
        while i < n:
            self.process_bar(i)
            while k < n_events and event_list[k] <= i:
                k += 1
            nxt = event_list[k] if k < n_events else n
            nxt = min(nxt, self.broker.quiet_until(i + 1, nxt) + 1)
            if nxt > i + 1:
                for j in self._held:
                    if self._manages[j]:
                        nxt = min(nxt, self._next_stop_visit(j, i, nxt))
            nxt = max(nxt, i + 1)
            if nxt > i + 1:
                self._mark_between(i + 1, nxt)
            i = nxt
            if progress is not None and i >= next_report:
                progress(min(i, n), n)
                next_report = i + report_every

    # -- the signal replay (by the venue) ---------------------------------------------------------------------
    def _replayable(self, start: int) -> bool:
        """Whether ``run`` can hand bars to a :class:`SignalReplay` venue: one symbol, long only,
        one entry per position, no managed stops or take-profit ladder, nothing traded yet. Everything else
        takes ``process_bar`` (same rules; ``tests/unit/application/test_signal_replay.py`` compares them)."""
        exits = self._exits[0]
        return (
            self._signal_replay
            and len(self._symbols) == 1
            and self._identity
            and self._n == len(self.frame)  # nothing appended: the venue replays the frame it was built over
            and not self.config.allow_short
            and self.config.max_entries == 1
            and not exits.take_profits
            and not self._manages[0]
            and self.state.last_index < 0
            and not self.fills
            and isinstance(self.broker, SignalReplay)
            and self.broker.can_replay(0)
        )

    def _replay_signals(self, start: int, progress: ProgressCallback | None) -> None:
        symbol = self._symbols[0]
        le = self._le[0]
        tracks = self._tracks_peak

        def decide(account: ReplayAccount) -> OrderRequest | None:
            # The engine's view at the deciding bar's close, then the same entry code as process_bar.
            i = account.bar
            self._cash = account.cash
            self._qty[0] = account.quantity
            self._held = [0] if account.quantity else []
            if tracks:
                self._peak = account.peak
            self._wins, self._losses = account.wins, account.losses
            self._win_sum, self._loss_sum = account.win_sum, account.loss_sum
            self._committed = {}
            self._equity_at = account.equity_at
            self._equity_max = account.equity_max
            if le.item(i):
                planned = self._plan_entry(0, i, _BUY, account.equity, account.gross, True)
                return None if planned is None else planned[1]
            self._deny(symbol, _NO_SHORTS)
            return None

        def exit_id(bar: int) -> str:
            return self._order_id(0, bar, EXIT)

        def deny(bar: int, reason: str) -> None:
            self._deny(symbol, f"entry rejected: {reason}", rule="venue")

        replayer = cast(SignalReplay, self.broker)  # checked by _replayable
        outcome = replayer.replay(
            0, start, (le, self._lx[0], self._se[0], self._sx[0]), self.equity, self.exposure, decide, exit_id,
            deny, peak=self._peak if tracks else math.nan, progress=progress,
        )  # fmt: skip
        self._equity_at = self._equity_max = None
        self._adopt(outcome)

    def _adopt(self, outcome: ReplayOutcome) -> None:
        """Take a replay's fills into the engine: trades (entries and exits alternate), the account, the
        open position's book, so that ``process_bar`` can carry on from the last bar."""
        symbol = self._symbols[0]
        state = self.state
        fills = outcome.fills
        self.fills.extend(fills)
        rows = outcome.rows
        self._cash_rows.extend(rows)
        self._cash_after.extend(outcome.cash_after)
        closed = len(fills) // 2
        wins = losses = 0
        win_sum = loss_sum = 0.0
        fees_paid, slippage_paid = self._fees_paid, self._slippage_paid
        entries, exits = fills[0 : 2 * closed : 2], fills[1 : 2 * closed : 2]
        entry_prices = [float(f.price) for f in entries]
        bars = np.array(rows[: 2 * closed], dtype=np.int64)
        highs, lows = self._extremes(0, bars[0::2], bars[1::2])
        mfe, mae = long_excursions(np.array(entry_prices), highs, lows)
        excursion_pairs = zip(mfe.tolist(), mae.tolist(), strict=True)
        append = self.trades.append
        trades = zip(
            entries, exits, entry_prices, outcome.held_after[0 : 2 * closed : 2], outcome.trade_pnl, excursion_pairs,
            strict=True,
        )  # fmt: skip
        entry_stops = self._entry_stops
        for entry, exit_, entry_f, quantity, net, (favourable, adverse) in trades:
            # The trade of a whole exit of a single entry, as _on_fill builds it: the venue computed its net
            # PnL (the same decimal operations) and the float of its quantity; the average entry of one
            # fill is its price (cost / quantity is exact: the price has at most 28 digits).
            entry_fee, entry_slippage, fee, slippage = entry.fee, entry.slippage, exit_.fee, exit_.slippage
            if net > 0:
                wins += 1
                win_sum += net
            elif net < 0:
                losses += 1
                loss_sum -= net
            fees_paid = fees_paid + entry_fee + fee  # fill by fill, as _on_fill sums them
            slippage_paid = slippage_paid + entry_slippage + slippage
            stop = entry_stops.pop(entry.client_order_id, math.nan)  # no managed stop in a replay: it stays put
            append(
                Trade(
                    symbol, _LONG, entry.timestamp, exit_.timestamp, entry_f, float(exit_.price), quantity,
                    float(entry_fee + fee), net, exit_.tag or "exit", float(entry_slippage + slippage), favourable,
                    adverse, stop, stop,
                )
            )  # fmt: skip
        if len(fills) % 2:  # an entry still open
            fees_paid += fills[-1].fee
            slippage_paid += fills[-1].slippage
        self._fees_paid, self._slippage_paid = fees_paid, slippage_paid
        self._wins, self._losses, self._win_sum, self._loss_sum = wins, losses, win_sum, loss_sum
        if self._tracks_peak:
            self._peak = outcome.peak
        state.last_index = self._n - 1
        state.cash = outcome.cash
        self._cash = float(state.cash)
        if outcome.position is not None:
            state.positions[symbol] = outcome.position
        position = state.position(symbol)
        self._qty[0] = float(position.quantity)
        self._held = [0] if position.quantity else []
        if position.quantity and len(fills) % 2:
            last = fills[-1]
            book = state.books[0]
            self._open_book(book, last, rows[-1], last.fee, last.slippage)
            book.stop_seen = self._n - 1

    def result(self) -> EngineResult:
        self._flush_marks()
        self._settle_trades()
        return EngineResult(
            self.equity, self.exposure, list(self.trades), list(self.fills), list(self.denials), self.state.portfolio,
            self._cash_curve(), float(self._fees_paid), float(self._slippage_paid), list(self.risk_events),
        )  # fmt: skip

    def _cash_curve(self) -> FloatArray:
        """The cash balance at each bar's close: the balance after the bar's last fill, or the previous one."""
        n = self._n
        curve = np.full(n, self._initial_cash)
        if self._cash_rows:
            rows = np.array(self._cash_rows, dtype=np.int64)
            values = np.array(self._cash_after)
            last = np.empty(rows.shape[0], dtype=bool)  # the last fill of each bar
            np.not_equal(rows[1:], rows[:-1], out=last[:-1])
            last[-1] = True
            rows, values = rows[last], values[last]
            first = int(rows[0])
            curve[first:] = np.repeat(values, np.diff(np.append(rows, n)))
        return curve

    # -- state: snapshot and restore ------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The engine's whole carried state after the last bar processed, JSON-safe (Decimals as text, NaN
        as ``None``), keyed by symbol and bar open time (never a row number): what :meth:`restore` needs to
        continue the run exactly as if it had not stopped. Taken between bars (not inside :meth:`run`).

        Holds the account (cash, positions), each symbol's position book (entry time, entry price, open fees,
        stop in force and the bar up to which closes were folded into it), the account's peak equity, the
        drawdown breaker (brought up to the last bar), the sizer's win/loss statistics, entries sent and not
        filled yet with their budgets and stops, each book's stop revision (order ids are derived from decisions,
        no counter travels), the fee and slippage totals, and the
        equity at the closes a later decision may still read (the day's start, a breaker reset due already).
        Fills, trades, denials and the equity curve before it are the run's record, not its state.
        """
        self._flush_marks()
        self._settle_trades()
        state = self.state
        times = self._times
        last = state.last_index
        bar_ms = self._bar_ms

        def when(row: int) -> int | None:
            return None if row < 0 else int(times.item(row))

        breaker = state.breaker
        seen = self._breaker_seen
        first = last  # the first close whose equity the snapshot carries
        if last >= 0:
            if self._breaker_on and breaker.tripped_ms is None and not math.isnan(breaker.peak) and seen < last:
                # Fold the closes since the last proposal into the breaker's own peak (as the next proposal
                # would: the max of the same values), so none of them needs to travel.
                breaker = BreakerState(None, max(breaker.peak, self._highest_equity(seen + 1, last)))
                seen = last
            now = times.item(last)
            day_row = int(times.searchsorted(now - now % _DAY_MS))  # the day's first row: its start is the close before
            first = min(first, max(day_row - 1, 0))
            if self._breaker_on and breaker.tripped_ms is not None:
                due = reset_due_ms(breaker, cast(RiskManager, self._risk).limits.max_drawdown_cooldown)
                if due is not None:
                    reset_row = int(times.searchsorted(due - bar_ms))
                    if reset_row <= last:  # a reset already due, made at the next proposal from these closes
                        first = min(first, reset_row)
        tail = [num(x) for x in self.equity[first : last + 1].tolist()] if last >= 0 else []
        books = {}
        for j, name in enumerate(self._names):
            book = state.books[j]
            books[name] = {
                "entries": book.entries,
                "entry_time": book.entry_time,
                "entry_price": num(book.entry_price),
                "open_fees": str(book.open_fees),
                "open_slippage": str(book.open_slippage),
                "stop_level": num(book.stop_level),
                "stop_initial": num(book.stop_initial),
                "stop_seen": when(book.stop_seen),
                "stop_revision": book.stop_revision,
            }
        return {
            "kind": "engine",
            "schema": ENGINE_SNAPSHOT_SCHEMA,
            "run_id": self.run_id,
            "symbols": list(self._names),
            "quote": state.quote,
            "initial_cash": repr(self._initial_cash),
            "last_time": when(last),
            "cash": str(state.cash),
            "positions": {str(s): position_to_json(p) for s, p in state.positions.items()},
            "held": [self._names[j] for j in self._held],  # in the order they are marked (float sums)
            "books": books,
            "peak": self._peak,
            "breaker": {"tripped_ms": breaker.tripped_ms, "peak": num(breaker.peak), "seen": when(seen)},
            "sizer": {"wins": self._wins, "losses": self._losses, "win_sum": self._win_sum, "loss_sum": self._loss_sum},
            "waiting": {oid: [self._names[j], side.value, budget] for oid, (j, side, budget) in self._waiting.items()},
            "attached_stops": {oid: str(stop) for oid, stop in self._attached_stops.items()},
            "entry_stops": {oid: num(stop) for oid, stop in self._entry_stops.items()},
            "fees_paid": str(self._fees_paid),
            "slippage_paid": str(self._slippage_paid),
            "equity": {"from": when(first), "values": tail},
        }

    def restore(self, snapshot: Snapshot) -> None:
        """Continue from ``snapshot`` (from :meth:`snapshot`, possibly through JSON) in this engine, which
        must be new (no bar processed) and built over the same symbols; the derived caches (float cash,
        quantities, the marked symbols, rows of the bars the snapshot names) are rebuilt here. Its broker
        must be in the matching state (the venue's own, or a simulation restored from its snapshot)."""
        check_schema(snapshot, "engine", ENGINE_SNAPSHOT_SCHEMA)
        if self.state.last_index >= 0 or self.fills:
            raise ConfigurationError("an engine restores a snapshot only before it processes a bar")
        if snapshot["symbols"] != self._names or snapshot["quote"] != self.state.quote:
            raise ConfigurationError(
                f"the snapshot is of {', '.join(snapshot['symbols'])} in {snapshot['quote']}, "
                f"this engine trades {', '.join(self._names)} in {self.state.quote}"
            )
        times = self._times
        symbols = dict(zip(self._names, self._symbols, strict=True))

        def row(time: int | None) -> int:
            if time is None:
                return -1
            r = int(times.searchsorted(time))
            if r >= len(times) or times.item(r) != time:
                raise ConfigurationError(f"the snapshot names bar {time}, which this engine's bars do not hold")
            return r

        state = self.state
        self.run_id = snapshot["run_id"]
        self._initial_cash = float(snapshot["initial_cash"])
        state.cash = Decimal(snapshot["cash"])
        state.positions = {
            symbol_of(symbols, name): position_from_json(symbol_of(symbols, name), data)
            for name, data in snapshot["positions"].items()
        }
        last = state.last_index = row(snapshot["last_time"])
        self._cash = float(state.cash)
        self._qty = [float(state.position(s).quantity) for s in self._symbols]
        self._held = [self._column[symbol_of(symbols, name)] for name in snapshot["held"]]
        for j, name in enumerate(self._names):
            data = snapshot["books"][name]
            entries = int(data["entries"])
            entry_time = int(data["entry_time"])
            state.books[j] = PositionBook(
                entries, entry_time, row(entry_time) if entries else 0, unnum(data["entry_price"]),
                Decimal(data["open_fees"]), Decimal(data["open_slippage"]), unnum(data["stop_level"]),
                unnum(data["stop_initial"]), row(data["stop_seen"]), int(data["stop_revision"]),
            )  # fmt: skip
        self._peak = float(snapshot["peak"])
        breaker = snapshot["breaker"]
        state.breaker = BreakerState(breaker["tripped_ms"], unnum(breaker["peak"]))
        self._breaker_seen = row(breaker["seen"])
        sizer = snapshot["sizer"]
        self._wins, self._losses = int(sizer["wins"]), int(sizer["losses"])
        self._win_sum, self._loss_sum = float(sizer["win_sum"]), float(sizer["loss_sum"])
        self._waiting = {
            oid: (self._column[symbol_of(symbols, name)], Side(side), float(budget))
            for oid, (name, side, budget) in snapshot["waiting"].items()
        }
        self._committed = {}  # rebuilt from the waiting entries at the next decision
        self._attached_stops = {oid: Decimal(stop) for oid, stop in snapshot["attached_stops"].items()}
        self._entry_stops = {oid: unnum(stop) for oid, stop in snapshot["entry_stops"].items()}
        self._fees_paid = Decimal(snapshot["fees_paid"])
        self._slippage_paid = Decimal(snapshot["slippage_paid"])
        self._day = self._first_of_day = -1  # found again from the bars' times
        tail = snapshot["equity"]
        if tail["values"]:
            first = row(tail["from"])
            self.equity[first : first + len(tail["values"])] = [unnum(x) for x in tail["values"]]
        if last >= 0:  # the cash curve carries on from the balance at the last bar
            self._cash_rows = [last]
            self._cash_after = [self._cash]

    # -- marking --------------------------------------------------------------------------------------
    def _mark(self, i: int) -> tuple[float, float]:
        # The same operations, in the same order, as _mark_between: both give identical floats.
        equity = self._cash
        gross = 0.0
        for j in self._held:
            value = self._qty[j] * self._marks[j].item(i)
            equity = equity + value
            gross = gross + abs(value)
        return equity, gross

    def _mark_between(self, a: int, b: int) -> None:
        """Equity and exposure for bars ``[a, b)`` where nothing changes: one array expression."""
        held = self._held
        if self._defer and len(held) <= 1:
            if held:
                j = held[0]
                self._spans.append((a, b, self._cash, self._qty[j], j))
            else:
                self._spans.append((a, b, self._cash, 0.0, -1))
            self._span_bars += b - a
            if self._span_bars >= _FLUSH_BARS:
                self._flush_marks()
            return
        if not held:
            self.equity[a:b] = self._cash
            self.exposure[a:b] = 0.0
            if self._tracks_peak:
                self._peak = max(self._peak, self._cash)
            return
        if len(self._held) == 1:
            # The common case, written into the output arrays directly (same operations as _mark). Runs
            # once per visit, so it is kept to a few ufunc calls: ``where`` leaves the exposure of bars with
            # equity <= 0 (or NaN) at the NaN the array starts with, and no division warning can arise.
            j = self._held[0]
            value = self._marks[j][a:b] * self._qty[j]
            out = self.equity[a:b]
            np.add(value, self._cash, out=out)
            np.abs(value, out=value)
            np.divide(value, out, out=self.exposure[a:b], where=out > 0)
            if self._tracks_peak:
                self._peak = max(self._peak, float(np.fmax.reduce(out)))
            return
        total: FloatArray = np.full(b - a, self._cash)
        gross: FloatArray = np.zeros(b - a)
        for j in self._held:
            value = self._qty[j] * self._marks[j][a:b]
            total = total + value
            gross = gross + np.abs(value)
        self.equity[a:b] = total
        if self._tracks_peak:
            self._peak = max(self._peak, float(np.fmax.reduce(total)))
        with np.errstate(divide="ignore", invalid="ignore"):
            self.exposure[a:b] = np.where(total > 0, gross / total, np.nan)

    def _flush_marks(self) -> None:
        """Write the deferred spans: per column, the same operations as _mark_between, on all its bars."""
        spans = self._spans
        if not spans:
            return
        if self._tracks_peak and len(spans) > self._spans_folded:
            self._fold_spans()
        self._spans = []
        self._span_bars = 0
        self._spans_folded = 0
        table = np.array(spans)  # (m, 5) float64: bar numbers and columns are exact in a double
        first = table[:, 0].astype(np.int64)
        lengths = table[:, 1].astype(np.int64) - first
        columns = table[:, 4]
        for c in np.unique(columns).tolist():
            sel = columns == c
            lens = lengths[sel]
            ends = np.cumsum(lens)
            rows = np.repeat(first[sel] - (ends - lens), lens) + np.arange(int(ends[-1]) if ends.size else 0)
            cash = np.repeat(table[sel, 2], lens)
            if c < 0:
                self.equity[rows] = cash
                self.exposure[rows] = 0.0
                continue
            value = self._marks[int(c)][rows] * np.repeat(table[sel, 3], lens)
            total = value + cash
            self.equity[rows] = total
            np.abs(value, out=value)
            with np.errstate(divide="ignore", invalid="ignore"):
                self.exposure[rows] = np.where(total > 0, value / total, np.nan)

    def _settle_trades(self) -> None:
        """Build the deferred trades, in order, with MFE/MAE from one ``reduceat`` per column (the same
        maxima and minima over ``[entry row, exit row]`` as the per-trade reductions)."""
        pending = self._pending_trades
        if not pending:
            return
        self._pending_trades = []
        table = np.array([(c, a, b) for c, a, b, _, _ in pending], dtype=np.int64)
        highs = np.empty(len(pending))
        lows = np.empty(len(pending))
        for c in np.unique(table[:, 0]).tolist():
            sel = np.flatnonzero(table[:, 0] == c)
            highs[sel], lows[sel] = self._extremes(c, table[sel, 1], table[sel, 2])
        trades = self.trades
        for (_, _, _, fields, stops), hi_, lo_ in zip(pending, highs.tolist(), lows.tolist(), strict=True):
            direction, entry_f = fields[1], fields[4]
            trades.append(Trade(*fields, *excursions(direction, entry_f, hi_, lo_), *stops))

    def _extremes(self, c: int, first: IntArray, last: IntArray) -> tuple[FloatArray, FloatArray]:
        """The highest high and lowest low of column ``c`` over each ``[first, last]`` (bars, inclusive)."""
        return reduce_spans(np.fmax, self._highs[c], first, last), reduce_spans(np.fmin, self._lows[c], first, last)

    def _fold_spans(self) -> None:
        """Fold the deferred spans not yet seen into the peak equity. ``x * qty + cash`` is monotone in ``x``
        (rounding is), so the span's highest equity is that of its highest mark (lowest when short): exact."""
        peak = self._peak
        for a, b, cash, qty, c in self._spans[self._spans_folded :]:
            if c < 0:
                peak = max(peak, cash)
            else:
                marks = self._marks[c][a:b]
                extreme = float(np.fmax.reduce(marks) if qty > 0 else np.fmin.reduce(marks))
                peak = max(peak, extreme * qty + cash)
        self._peak = peak
        self._spans_folded = len(self._spans)

    def _span_equity(self, r: int) -> float:
        """The equity at bar ``r`` when a deferred span covers it (as _flush_marks will write it), else NaN."""
        for a, b, cash, qty, c in reversed(self._spans):
            if a <= r < b:
                return cash if c < 0 else self._marks[c].item(r) * qty + cash
        return math.nan

    # -- decisions ------------------------------------------------------------------------------------
    def _decide(self, i: int, equity: float, gross: float) -> None:
        # Exposure promised to entries not filled yet: those decided at this bar, and those still waiting
        # for a tradable bar (a market order decided before a zero-volume bar fills after it).
        waiting = self._waiting_entries() if self._waiting else {}
        self._committed = {j: budget for j, (_, _, budget) in waiting.items()}
        committed = sum(self._committed.values(), 0.0)
        max_entries = self.config.max_entries
        for j, symbol in enumerate(self._symbols):
            long_entry, long_exit = self._le[j].item(i), self._lx[j].item(i)
            short_entry, short_exit = self._se[j].item(i), self._sx[j].item(i)
            if not (long_entry or long_exit or short_entry or short_exit):
                continue
            held = self._qty[j]
            flat_after = held == 0
            if (held > 0 and (long_exit or short_entry)) or (held < 0 and (short_exit or long_entry)):
                self._submit_exit(j, i)
                flat_after = True
            entries = self.state.books[j].entries
            pending, pending_side, _ = waiting.get(j, (0, None, 0.0))
            if pending:  # an entry still waiting counts as one, on its side
                if (long_entry and pending_side is not _BUY) or (short_entry and pending_side is not _SELL):
                    self._deny(symbol, "entry skipped: an entry on the other side is still waiting to fill")
                    continue
                flat_after = False
                entries += pending
            if long_entry and (flat_after or (held >= 0 and entries < max_entries)):
                committed += self._submit_entry(j, i, _BUY, equity, gross + committed, flat_after)
            elif short_entry and (flat_after or (held <= 0 and entries < max_entries)):
                if self.config.allow_short:
                    committed += self._submit_entry(j, i, _SELL, equity, gross + committed, flat_after)
                else:
                    self._deny(symbol, _NO_SHORTS)

    def _waiting_entries(self) -> dict[int, tuple[int, Side, float]]:
        """Entry orders sent and not filled yet, by symbol column: how many, their side, their budget. Orders
        the venue no longer holds open (refused, canceled, expired) are forgotten."""
        still_open = {order.request.client_order_id for order in self.broker.open_orders()}
        by_symbol: dict[int, tuple[int, Side, float]] = {}
        for oid, (j, side, budget) in list(self._waiting.items()):
            if oid not in still_open:
                del self._waiting[oid]
                continue
            count, _, total = by_symbol.get(j, (0, side, 0.0))
            by_symbol[j] = (count + 1, side, total + budget)
        return by_symbol

    def _order_id(self, j: int, i: int, intent: str, revision: int = 0) -> str:
        """The id of the order for symbol ``j`` decided at bar ``i``'s close (application/order_ids.py)."""
        return order_id(self._id_session, self._id_symbols[j], self._times.item(i), intent, revision)

    def _submit_exit(self, j: int, i: int) -> None:
        position = self.state.position(self._symbols[j])
        side = _SELL if position.is_long else _BUY
        self._send(
            OrderRequest(
                self._order_id(j, i, EXIT), self._symbols[j], side, OrderType.MARKET, abs(position.quantity),
                self.clock.now_ms(), reduce_only=True, tag="exit",
            )
        )  # fmt: skip

    def _submit_entry(self, j: int, i: int, side: Side, equity: float, gross: float, flat: bool) -> float:
        """Send an entry; returns the exposure (quote amount) it commits."""
        planned = self._plan_entry(j, i, side, equity, gross, flat)
        if planned is None:
            return 0.0
        budget, request = planned
        if request.stop_loss is not None and self._manages[j]:
            self._attached_stops[request.client_order_id] = request.stop_loss
        if not self._send(request):
            return 0.0
        self._committed[j] = self._committed.get(j, 0.0) + budget
        self._waiting[request.client_order_id] = (j, side, budget)
        return budget

    def _plan_entry(
        self, j: int, i: int, side: Side, equity: float, gross: float, flat: bool
    ) -> tuple[float, OrderRequest] | None:
        """The entry order for a decision at bar ``i`` and the exposure it commits, or None (the reason
        recorded as a denial)."""
        symbol = self._symbols[j]
        instrument = self._instruments[j]
        size = self._size[j].item(i)
        price = self._cols[j].item(i)
        held_value = 0.0 if flat else abs(self._qty[j] * price)
        if not (equity > 0 and size > 0):
            self._deny(symbol, f"no equity to commit (equity {equity:.2f}, size {size:g})")
            return None
        now = self.clock.now_ms()
        if self._sizer is not None or self._risk is not None:
            size = self._risk_checked_size(j, i, side, equity, gross, size, now)
            if size <= 0:
                return None
        budget = min(
            size * equity, self._symbol_cap * equity - held_value, self.config.max_gross_exposure * equity - gross
        )
        if budget < self._min_notional[j] or budget <= 0:
            reason = "exposure caps leave" if budget < size * equity else "equity commits"
            self._deny(symbol, f"entry skipped: {reason} {max(budget, 0):.2f} {symbol.quote}, below the minimum order")
            return None
        distance = self._stop[j].item(i)
        stop: Decimal | None = None
        if distance > 0:  # False for NaN (no stop)
            level = price - distance if side is _BUY else price + distance
            if level <= 0:
                self._deny(symbol, f"stop distance {distance:g} is larger than the price {price:g}")
                return None
            # Protective rounding: a long's stop down, a short's up (never tighter than asked).
            stop = instrument.round_stop(level, side is _BUY)
            if stop <= 0 or (float(stop) >= price if side is _BUY else float(stop) <= price):
                self._deny(
                    symbol,
                    f"stop refused: {distance:g} from {price:g} rounds to {stop:f} on the tick of "
                    f"{instrument.tick_size:f}, at or through the price it protects",
                )
                return None
        sign = 1.0 if side is _BUY else -1.0
        ladder = self._exits[j].take_profits
        long = side is _BUY
        # A target is not made easier to reach than asked: a long's rounds up, a short's down.
        targets = (
            tuple((instrument.round_target(price * (1 + sign * d), long), Decimal(repr(f))) for d, f in ladder)
            if ladder
            else ()
        )
        if targets and any(target <= 0 for target, _ in targets):
            self._deny(symbol, f"take-profit refused: a target rounds to zero on the tick of {instrument.tick_size:f}")
            return None
        if not 0 < budget < _MAX_ORDER:  # NaN, inf or beyond exact decimals: no order rather than InvalidOperation
            self._deny(symbol, f"order value {budget:g} is not a finite amount below {_MAX_ORDER:g}")
            return None
        if side is _BUY:
            quote = Decimal(repr(budget)).quantize(_CENT, rounding=ROUND_DOWN)
            request = OrderRequest(
                self._order_id(j, i, ENTRY), symbol, side, OrderType.MARKET, None, now,
                quote_quantity=quote, stop_loss=stop, take_profits=targets, tag="entry",
            )  # fmt: skip
        else:
            quantity = instrument.round_quantity(budget / price)
            if quantity <= 0:
                self._deny(symbol, f"equity {equity:.2f} sells less than one step of {symbol}")
                return None
            request = OrderRequest(
                self._order_id(j, i, ENTRY), symbol, side, OrderType.MARKET, quantity, now,
                stop_loss=stop, take_profits=targets, tag="entry",
            )  # fmt: skip
        if stop is not None:
            self._entry_stops[request.client_order_id] = float(stop)
        return budget, request

    # -- risk -----------------------------------------------------------------------------------------
    def _risk_checked_size(
        self, j: int, i: int, side: Side, equity: float, gross: float, size: float, now: int
    ) -> float:
        """The fraction of equity the sizer asks for and the risk manager allows; reasons are recorded."""
        price = self._cols[j].item(i)
        atr = self._atr[j]
        confidence = self._confidence[j]
        proposal = EntryProposal(
            self._names[j], now, 1 if side is _BUY else -1, price,
            stop_distance=self._stop[j].item(i),
            atr=atr.item(i) if atr is not None else math.nan,
            confidence=confidence.item(i) if confidence is not None else 1.0,
            requested=size,
        )  # fmt: skip
        if self._breaker_on:
            self._update_breaker(i, equity)
        account = self._account_view(j, i, equity, gross)
        fraction = self._sizer.fraction(proposal, account) if self._sizer is not None else size
        if self._risk is None:
            return fraction if fraction > 0 else 0.0
        decision = self._risk.assess(proposal, account, fraction, sizer=self._sizer)
        denied = decision.denied
        reasons = decision.reasons
        if reasons:
            symbol = self._symbols[j]
            if denied:  # the last reason is the rule that denied; cuts before it never took effect
                self._deny(symbol, reasons[-1], "denied", rule_of(reasons[-1]))
            else:
                for reason in reasons:
                    self._deny(symbol, reason, "reduced", rule_of(reason))
        return 0.0 if denied else decision.fraction

    def _update_breaker(self, i: int, equity: float) -> None:
        """Bring the drawdown breaker to bar ``i``'s close, where an entry is proposed: reset it if its
        cool-down has ended (at the first close it allows, whose equity becomes its peak), fold the closes
        since the last proposal into its own peak, trip it if the drawdown has reached the limit. Each trip and
        reset is recorded in ``risk_events`` (``domain/risk/breaker.py`` has the rules)."""
        state = self.state.breaker
        if state.tripped_ms is None and state.peak != state.peak:  # armed, measuring from the account's peak
            if len(self._spans) > self._spans_folded:
                self._fold_spans()  # the account's peak, up to date with the deferred marks
            peak = self._peak
            if not (peak > 0 and 1.0 - equity / peak >= self._breaker_limit):  # drawdown_from(...) < limit
                return
        limits = cast(RiskManager, self._risk).limits
        bar_ms = self._bar_ms
        times = self._times
        if state.tripped_ms is not None:
            due = reset_due_ms(state, limits.max_drawdown_cooldown)
            if due is None or times.item(i) + bar_ms < due:
                return
            r = min(int(times.searchsorted(due - bar_ms)), i)  # the first bar closing at or after `due`
            at_reset = self._close_equity(r)
            self.risk_events.append(
                RiskEvent(times.item(r) + bar_ms, MAX_DRAWDOWN, RESET, at_reset,
                          drawdown_from(at_reset, state.peak), state.peak)
            )  # fmt: skip
            state = BreakerState(None, at_reset)
            self._breaker_seen = r
        if not math.isnan(state.peak) and self._breaker_seen < i:
            state = BreakerState(None, max(state.peak, self._highest_equity(self._breaker_seen + 1, i)))
            self._breaker_seen = i
        if math.isnan(state.peak) and len(self._spans) > self._spans_folded:
            self._fold_spans()  # the account's peak, up to date with the deferred marks
        peak = self._peak if math.isnan(state.peak) else state.peak
        drawdown = drawdown_from(equity, peak)
        if drawdown >= limits.max_drawdown:
            self.risk_events.append(RiskEvent(times.item(i) + bar_ms, MAX_DRAWDOWN, TRIP, equity, drawdown, peak))
            state = BreakerState(times.item(i) + bar_ms, peak)
        self.state.breaker = state

    def reset_breaker(self) -> bool:
        """A person resets the drawdown breaker (a latched one, or one cooling down) after the last bar
        processed: the equity at its close becomes the breaker's peak, and the reset is a risk event. Returns
        whether it was tripped."""
        state = self.state.breaker
        i = self.state.last_index
        if state.tripped_ms is None or i < 0:
            return False
        equity = self._close_equity(i)
        close = self._times.item(i) + self._bar_ms
        self.risk_events.append(
            RiskEvent(close, MAX_DRAWDOWN, RESET, equity, drawdown_from(equity, state.peak), state.peak)
        )
        self.state.breaker = BreakerState(None, equity)
        self._breaker_seen = i
        return True

    def _close_equity(self, r: int) -> float:
        """The equity at bar ``r``'s close (``r`` at or before the bar being decided)."""
        if self._equity_at is not None:
            return self._equity_at(r)
        if self._spans:
            self._flush_marks()
        return float(self.equity[r])

    def _highest_equity(self, a: int, b: int) -> float:
        """The highest equity at the closes of bars ``a..b`` (``b`` at most the bar being decided)."""
        if self._equity_max is not None:
            return self._equity_max(a, b)
        if self._spans:
            self._flush_marks()
        return float(np.fmax.reduce(self.equity[a : b + 1]))

    def _account_view(self, j: int, i: int, equity: float, gross: float) -> AccountView:
        # The peak is kept up to date as bars are marked (process_bar, _mark_between) and deferred spans
        # are folded in here; a deferred bar's equity is read from its span (the same float operations as
        # _flush_marks), so no flush is needed per entry.
        equity_curve = self.equity
        if len(self._spans) > self._spans_folded:
            self._fold_spans()
        now = self._times.item(i)
        day = now - now % _DAY_MS
        if day != self._day:  # the day's first row, found once per day
            self._day = day
            # Without a gap since midnight it is (now - midnight) // bar length rows back; else searched.
            times = self._times
            guess = i - (now - day) // self._bar_ms
            if guess >= 0 and times.item(guess) >= day and (guess == 0 or times.item(guess - 1) < day):
                self._first_of_day = guess
            else:
                self._first_of_day = int(times.searchsorted(day))
        first_of_day = self._first_of_day
        day_start = equity_curve.item(first_of_day - 1) if first_of_day > 0 else self._initial_cash
        if math.isnan(day_start) and self._spans:
            day_start = self._span_equity(first_of_day - 1)
        if math.isnan(day_start) and self._equity_at is not None:  # a venue's replay writes marks at its end
            day_start = self._equity_at(first_of_day - 1)
        if math.isnan(day_start):
            day_start = self._initial_cash
        by_symbol: dict[str, float] = {}
        correlations: dict[str, float] = {}
        held, committed = self._held, self._committed
        if len(self._names) == 1:  # one symbol: no set to build, no correlations
            if held or committed:
                value = abs(self._qty[0] * self._marks[0].item(i)) if held else 0.0
                by_symbol[self._names[0]] = (value + committed.get(0, 0.0)) / equity
        else:
            for h in set(held) | set(committed):
                value = abs(self._qty[h] * self._marks[h].item(i)) if h in held else 0.0
                by_symbol[self._names[h]] = (value + committed.get(h, 0.0)) / equity
                if h != j and (j, h) in self._correlations:
                    correlations[self._names[h]] = self._correlation(j, h, i)
        regimes = self._regimes[j]
        regime = None
        if regimes is not None:
            own = i if self._identity else int(self.tape.rows(j).searchsorted(i))
            regime = regimes.at(own)
        closed = self._wins + self._losses
        win_rate = self._wins / closed if closed else math.nan
        payoff = (
            (self._win_sum / self._wins) / (self._loss_sum / self._losses) if self._wins and self._losses else math.nan
        )
        breaker = self.state.breaker
        return AccountView(
            equity, self._peak, day_start, gross / equity, by_symbol, correlations, regime, win_rate, payoff,
            closed_trades=closed, breaker_tripped=breaker.tripped_ms is not None, breaker_peak=breaker.peak,
        )  # fmt: skip

    def _send(self, request: OrderRequest) -> bool:
        try:
            self.broker.submit(request)
        except OrderRejected as e:
            self._deny(request.symbol, f"{request.tag} order rejected: {e}", rule="venue")
            return False
        return True

    def _deny(self, symbol: Symbol, reason: str, action: str = "denied", rule: str = "engine") -> None:
        self.denials.append(Denial(self.clock.now_ms(), str(symbol), reason, action, rule))

    # -- managed stops (trailing, break-even) ---------------------------------------------------------
    def _stop_candidates(self, j: int, a: int, b: int, long: bool | None = None) -> FloatArray:
        """For bars ``[a, b)``: the stop level each bar's close asks for (NaN: no opinion); ``long``: the side
        of the position (None: the one held now)."""
        rules = self._exits[j]
        book = self.state.books[j]
        if long is None:
            long = self._qty[j] > 0
        high, low = self._highs[j][a:b], self._lows[j][a:b]
        cand = np.full(b - a, np.nan)
        if rules.trailing_pct > 0:
            cand = (
                np.fmax(cand, high * (1 - rules.trailing_pct))
                if long
                else np.fmin(cand, low * (1 + rules.trailing_pct))
            )
        atr = self._atr[j]
        if rules.trailing_atr > 0 and atr is not None:
            offset = rules.trailing_atr * atr[a:b]
            cand = np.fmax(cand, high - offset) if long else np.fmin(cand, low + offset)
        if rules.break_even > 0:
            entry = book.entry_price
            if long:
                cand = np.fmax(cand, np.where(high >= entry * (1 + rules.break_even), entry, np.nan))
            else:
                cand = np.fmin(cand, np.where(low <= entry * (1 - rules.break_even), entry, np.nan))
        tick = float(self._instruments[j].tick_size)
        # Stops sit on the tick grid, on the side that never tightens them past what was asked.
        return np.floor(cand / tick) * tick if long else np.ceil(cand / tick) * tick

    def _move_stop(self, j: int, i: int) -> None:
        """Fold the closes since the last visit into the stop; move the resting order if it tightened."""
        book = self.state.books[j]
        long = self._qty[j] > 0
        first = book.stop_seen + 1
        book.stop_seen = i
        if first > i:
            return
        cands = self._stop_candidates(j, first, i + 1)
        if np.isnan(cands).all():
            return
        cand = float(np.nanmax(cands) if long else np.nanmin(cands))
        if not cand > 0:  # a long's level floored to zero on a tick coarser than the price protects nothing
            return
        current = book.stop_level
        if not math.isnan(current) and (cand <= current if long else cand >= current):
            return
        # The bars among these where a bar-by-bar run would have moved the stop: their count advances the
        # revision, and the last of them decided the level (both the same however the bars were visited).
        if first == i:  # one close folded (a bar-by-bar visit): it moved the stop
            moved = np.zeros(1, dtype=np.int64)
        else:
            levels = np.where(cands > 0, cands, np.nan)  # what a bar's close asks for; NaN never compares
            start = current if not math.isnan(current) else (-math.inf if long else math.inf)
            before = np.concatenate(([start], levels[:-1]))
            if long:
                moved = np.flatnonzero(levels > np.fmax.accumulate(before))
            else:
                moved = np.flatnonzero(levels < np.fmin.accumulate(before))
        book.stop_revision += moved.size
        book.stop_level = cand
        symbol = self._symbols[j]
        for order in self.broker.open_orders(symbol):
            if order.request.tag in _STOP_TAGS:
                self.broker.cancel(order.client_order_id)
        position = self.state.position(symbol)
        # cand is on the tick grid up to float error (see _stop_candidates): the exact tick multiple, as a venue
        # requires (a price off the grid is refused: PRICE_FILTER on Binance)
        tick = self._instruments[j].tick_size
        level = Decimal(round(cand / float(tick))) * tick
        self._send(
            OrderRequest(
                self._order_id(j, first + int(moved[-1]), STOP, book.stop_revision), symbol,
                Side.SELL if long else Side.BUY, OrderType.STOP, abs(position.quantity), self.clock.now_ms(),
                stop_price=level, reduce_only=True, tag="trailing_stop",
            )
        )  # fmt: skip

    def _stop_in_force(self, j: int, i: int, long: bool) -> float:
        """The stop protecting symbol ``j``'s position during bar ``i`` (what a trade closed there reports):
        the managed stop with the closes up to bar ``i - 1`` folded in, as visiting every bar would have it (a
        skipped span has not moved it yet), else the attached stop; NaN when none."""
        book = self.state.books[j]
        level = book.stop_level
        first = book.stop_seen + 1
        if self._manages[j] and first < i:
            cands = self._stop_candidates(j, first, i, long)
            if not np.isnan(cands).all():
                cand = float(np.nanmax(cands) if long else np.nanmin(cands))
                if cand > 0 and (math.isnan(level) or (cand > level if long else cand < level)):
                    level = cand
        return book.stop_initial if math.isnan(level) else level

    def _next_stop_visit(self, j: int, i: int, horizon: int) -> int:
        """The bar before the first bar in ``(i, horizon]`` where the managed stop, moved as it would be
        bar by bar, is hit; ``horizon`` if none. Visiting that bar moves the stop in time (the horizon is
        included: a resting order may fill there, and it must do so at the level it would have by then)."""
        book = self.state.books[j]
        long = self._qty[j] > 0
        start = i + 1
        level = book.stop_level
        step = 256
        last_bar = min(horizon, self._n - 1)
        while start <= last_bar:
            end = min(last_bar + 1, start + step)
            cand = self._stop_candidates(j, start - 1, end - 1)  # set at bar r-1's close, in force at bar r
            if not math.isnan(level):
                cand = np.concatenate(([level], cand))
                path = (np.fmax.accumulate(cand) if long else np.fmin.accumulate(cand))[1:]
            else:
                path = np.fmax.accumulate(cand) if long else np.fmin.accumulate(cand)
            with np.errstate(invalid="ignore"):
                hit = self._lows[j][start:end] <= path if long else self._highs[j][start:end] >= path
            hits = np.flatnonzero(hit)
            if hits.size:
                return max(start + int(hits[0]) - 1, i + 1)
            last = path[-1] if path.size else level
            level = float(last) if not math.isnan(last) else level
            start = end
            step *= 4
        return horizon

    # -- bookkeeping ----------------------------------------------------------------------------------
    def _on_fill(self, fill: Fill, i: int) -> None:
        if self._waiting:
            self._waiting.pop(fill.client_order_id, None)
        state = self.state
        symbol = fill.symbol
        j = self._column[symbol]
        book = state.books[j]
        before = state.positions.get(symbol) or Position(symbol)
        after = before.apply(fill)
        state.positions[symbol] = after
        quantity, price, fee = fill.quantity, fill.price, fill.fee
        buy = fill.side is _BUY
        # cash - signed quantity x price - fee, written per side (the same exact Decimal result).
        state.cash = state.cash - quantity * price - fee if buy else state.cash + quantity * price - fee
        self.fills.append(fill)
        self._fees_paid += fee
        self._slippage_paid += fill.slippage
        self._cash = float(state.cash)
        self._cash_rows.append(i)
        self._cash_after.append(self._cash)
        self._qty[j] = float(after.quantity)
        if after.quantity:
            if j not in self._held:
                self._held.append(j)
        elif j in self._held:
            self._held.remove(j)
        held = before.quantity
        if held == 0 or (held > 0) == buy:
            if held == 0:
                self._open_book(book, fill, i, fee, fill.slippage)
            else:
                book.entries += 1
                book.open_fees += fee
                book.open_slippage += fill.slippage
            return
        size = abs(held)
        closing = min(quantity, size)
        whole = closing == size
        entry_fee = book.open_fees if whole else book.open_fees * closing / size
        entry_slip = book.open_slippage if whole else book.open_slippage * closing / size
        if closing == quantity:
            exit_fee, exit_slip = fee, fill.slippage
        else:
            part = closing / quantity
            exit_fee, exit_slip = fee * part, fill.slippage * part
        long = held > 0
        direction = _LONG if long else _SHORT
        entry_price = before.average_entry
        gross = closing * (price - entry_price) if long else -closing * (price - entry_price)
        net = gross - entry_fee - exit_fee
        net_f = float(net)
        if net_f > 0:
            self._wins += 1
            self._win_sum += net_f
        elif net_f < 0:
            self._losses += 1
            self._loss_sum -= net_f
        entry_f = float(entry_price)
        fields: _TradeFields = (
            symbol, direction, book.entry_time, fill.timestamp, entry_f, float(price), float(closing),
            float(entry_fee + exit_fee), net_f, fill.tag or "exit", float(entry_slip + exit_slip),
        )  # fmt: skip
        last_stop = self._stop_in_force(j, i, long) if self._manages[j] else book.stop_initial
        stops = (book.stop_initial, last_stop)
        if self._defer:  # run(): excursions of all trades in one vectorised pass (_settle_trades)
            self._pending_trades.append((j, book.entry_row, i, fields, stops))
        else:
            hi = np.fmax.reduce(self._highs[j][book.entry_row : i + 1])
            lo = np.fmin.reduce(self._lows[j][book.entry_row : i + 1])
            self.trades.append(Trade(*fields, *excursions(direction, entry_f, float(hi), float(lo)), *stops))
        book.open_fees -= entry_fee
        book.open_slippage -= entry_slip
        if quantity > closing:  # flipped to the other side
            self._open_book(book, fill, i, fee - exit_fee, fill.slippage - exit_slip)
        elif not after.quantity:
            state.books[j] = PositionBook()

    def _open_book(self, book: PositionBook, fill: Fill, i: int, fee: Decimal, slippage: Decimal) -> None:
        book.entries = 1
        book.entry_time = fill.timestamp
        book.entry_row = i
        book.entry_price = float(fill.price)
        book.open_fees = fee
        book.open_slippage = slippage
        # The stop attached to the entry is where a managed stop starts from; it never loosens.
        stop = self._attached_stops.pop(fill.client_order_id, None)
        book.stop_level = float(stop) if stop is not None else math.nan
        book.stop_initial = self._entry_stops.pop(fill.client_order_id, math.nan)
        book.stop_seen = i - 1
        book.stop_revision = 0
