"""The risk manager: what an entry may commit, given the sizer's fraction, the account and the limits.

:meth:`RiskManager.assess` applies the rules in this order; the first two deny, the others scale or cap,
and a cap that leaves no room denies:

1. ``sizer``: a fraction that is not > 0 (or NaN) is no entry ("why" comes from the sizer when it can say).
2. ``max_drawdown`` circuit breaker: tripped (``account.breaker_tripped``, kept by the engine with
   ``domain/risk/breaker.py``), or drawdown from the breaker's peak >= limit -> denied.
3. ``daily_loss_limit``: equity change since the UTC day's start <= -limit -> denied (the engine resets
   ``day_start_equity`` at each UTC midnight, which lifts it).
4. ``drawdown_steps``: the size is multiplied by the deepest step's multiplier the drawdown has reached.
5. ``max_risk_per_trade``: with a stop distance, ``fraction x stop_distance / price`` <= limit.
6. ``max_position``: the symbol's exposure after the entry <= limit.
7. correlation budget: held symbols whose |correlation| with the proposal's is >= ``correlation_threshold``
   share one ``max_position`` budget with it (unknown correlations, NaN, do not count).
8. gross cap: gross exposure after the entry <= ``min(max_gross_exposure, regime cap)``.
9. ``min_fraction``: what is left below it is dropped.

Every denial or reduction adds a reason, prefixed with the rule's name and giving the numbers, e.g.
``"drawdown_steps: drawdown 11.2% >= 10%: size x0.6"``. A denial is a :class:`RiskDecision` with fraction 0,
never an exception. :func:`rule_of` reads the rule back from a reason. The cost is one pass over the
account's held symbols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from domain.risk.limits import RiskLimits
from domain.risk.sizers import ExplainsZero
from domain.risk.types import AccountView, EntryProposal, PositionSizer, RiskDecision

_EPS = 1e-12  # room below this is none (float residue of subtracting exposures)


def rule_of(reason: str) -> str:
    """The rule that wrote ``reason`` (its prefix: ``"correlation: ..." -> "correlation"``)."""
    return reason.split(":", 1)[0].strip()


def _pct(x: float) -> str:
    """``0.112 -> "11.2%"``: a fraction as a percentage with at most two decimals."""
    if math.isinf(x):
        return "no cap"
    return f"{round(100.0 * x, 2):g}%"


def _size(old: float, new: float) -> str:
    return f"size {_pct(old)} -> {_pct(new)}"


@dataclass(frozen=True, slots=True)
class RiskManager:
    """Applies :class:`RiskLimits` to each entry (one manager per strategy, built from its merged limits).

    With several strategies on one account, each sees the whole account's exposures, so every entry
    respects its own strategy's limits against everything held.
    """

    limits: RiskLimits = RiskLimits()  # noqa: RUF009  (frozen, immutable default)

    def assess(
        self,
        proposal: EntryProposal,
        account: AccountView,
        fraction: float,
        *,
        sizer: PositionSizer | None = None,
    ) -> RiskDecision:
        """The fraction of equity ``proposal`` may commit, from the sizer's ``fraction``, and why it is less.

        Pass ``sizer`` to have a zero size explained by the sizer itself. Exposures in ``account`` are
        fractions of equity and count entries already committed at this bar.
        """
        lim = self.limits
        reasons: list[str] = []
        symbol = proposal.symbol

        # 1. the sizer
        if not 0 < fraction < math.inf:
            who = f"sizer {sizer.name}" if sizer is not None else "the sizer"
            if fraction == math.inf:
                return RiskDecision(0.0, (f"sizer: {who} gave an infinite size",))
            why = f"{who} gave no size ({fraction!r})"
            if isinstance(sizer, ExplainsZero):
                why += f": {sizer.why_zero(proposal, account)}"
            return RiskDecision(0.0, (f"sizer: {why}",))

        # 2. circuit breaker (the drawdown is read only by rules that are on)
        if lim.max_drawdown > 0:
            breaker = account.breaker_drawdown
            if account.breaker_tripped:  # until it resets: max_drawdown_cooldown (the report lists when)
                return RiskDecision(
                    0.0, (f"max_drawdown: circuit breaker tripped (drawdown {_pct(breaker)}): no new entries",)
                )
            if breaker >= lim.max_drawdown:
                return RiskDecision(
                    0.0,
                    (
                        f"max_drawdown: drawdown {_pct(breaker)} >= {_pct(lim.max_drawdown)}: "
                        "circuit breaker, no new entries",
                    ),
                )
        drawdown = account.drawdown if lim.drawdown_steps else 0.0

        # 3. daily loss limit
        day_return = account.day_return if lim.daily_loss_limit > 0 else 0.0
        if lim.daily_loss_limit > 0 and day_return <= -lim.daily_loss_limit:
            return RiskDecision(
                0.0,
                (
                    f"daily_loss_limit: day {_pct(day_return)} <= -{_pct(lim.daily_loss_limit)}: "
                    "no new entries until the next UTC day",
                ),
            )

        f = fraction
        # 4. dynamic risk: scale down in drawdown
        mult, step = lim.drawdown_multiplier(drawdown) if lim.drawdown_steps else (1.0, 0.0)
        if mult < 1.0:
            f *= mult
            reasons.append(f"drawdown_steps: drawdown {_pct(drawdown)} >= {_pct(step)}: size x{mult:g}")

        # 5. risk per trade, from the stop distance
        stop, price = proposal.stop_distance, proposal.price
        if lim.max_risk_per_trade > 0 and stop > 0 and price > 0:
            stop_frac = stop / price
            if f * stop_frac > lim.max_risk_per_trade:
                new = lim.max_risk_per_trade / stop_frac
                reasons.append(
                    f"max_risk_per_trade: risk {_pct(f * stop_frac)} (stop {_pct(stop_frac)} away) > "
                    f"{_pct(lim.max_risk_per_trade)}: {_size(f, new)}"
                )
                f = new

        # 6. per-symbol cap
        exposures = account.exposure_by_symbol
        own = abs(exposures.get(symbol, 0.0))
        room = lim.max_position - own
        if room <= _EPS:
            reasons.append(f"max_position: {symbol} already at {_pct(own)} of {_pct(lim.max_position)}: no room")
            return RiskDecision(0.0, tuple(reasons))
        if f > room:
            reasons.append(f"max_position: {symbol} holds {_pct(own)}, cap {_pct(lim.max_position)}: {_size(f, room)}")
            f = room

        # 7. correlated symbols share the per-symbol budget
        threshold = lim.correlation_threshold
        if threshold > 0 and account.correlations:
            shared = 0.0
            names: list[str] = []
            for other, rho in account.correlations.items():
                if other == symbol or not abs(rho) >= threshold:  # NaN: unknown, not counted
                    continue
                held = abs(exposures.get(other, 0.0))
                if held > 0:
                    shared += held
                    names.append(f"{other} {_pct(held)} (corr {rho:.2f})")
            if names:
                room = lim.max_position - own - shared
                group = ", ".join(names)
                if room <= _EPS:
                    reasons.append(
                        f"correlation: {symbol} shares a {_pct(lim.max_position)} budget with {group}: no room"
                    )
                    return RiskDecision(0.0, tuple(reasons))
                if f > room:
                    reasons.append(
                        f"correlation: {symbol} shares a {_pct(lim.max_position)} budget with {group}: {_size(f, room)}"
                    )
                    f = room

        # 8. gross exposure, capped lower in some regimes
        regime_cap, pattern = lim.regime_cap(account.regime) if lim.regime_caps else (math.inf, "")
        cap = lim.max_gross_exposure
        which = "max_gross_exposure"
        if regime_cap < cap:
            cap = regime_cap
            which = f"regime_caps: regime {account.regime} ({pattern})"
        gross = account.gross_exposure
        room = cap - gross
        if room <= _EPS:
            reasons.append(f"{which}: gross exposure {_pct(gross)} already at cap {_pct(cap)}: no room")
            return RiskDecision(0.0, tuple(reasons))
        if f > room:
            reasons.append(f"{which}: gross exposure {_pct(gross)}, cap {_pct(cap)}: {_size(f, room)}")
            f = room

        # 9. dust
        if f < lim.min_fraction or f <= _EPS:
            reasons.append(f"min_fraction: size {_pct(f)} below {_pct(lim.min_fraction)}: dropped")
            return RiskDecision(0.0, tuple(reasons))
        return RiskDecision(f, tuple(reasons))
