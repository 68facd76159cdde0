"""Risk: position sizing and the risk manager's rules. Pure functions and small value objects.

The engine asks a sizer how much of the equity an entry should commit, then the risk manager what it may
commit; a denial or a cut is a returned :class:`RiskDecision` with reasons, never an exception::

    fraction = sizer.fraction(proposal, account)
    decision = manager.assess(proposal, account, fraction, sizer=sizer)  # decision.reasons: why less
"""

from domain.risk.breaker import BreakerState, RiskEvent
from domain.risk.correlation import pairwise_rolling_correlations, rolling_correlation, simple_returns
from domain.risk.limits import LIMIT_NAMES, RiskLimits, merge, merge_layers
from domain.risk.manager import RiskManager, rule_of
from domain.risk.sizers import (
    DEFAULT_SIZER,
    ConfidenceWeighted,
    FixedFraction,
    FixedRisk,
    KellyCapped,
    Requested,
    VolatilityTarget,
    create_sizer,
    describe_sizer,
    sizer_names,
)
from domain.risk.types import AccountView, EntryProposal, PositionSizer, RiskDecision

__all__ = [
    "DEFAULT_SIZER",
    "LIMIT_NAMES",
    "AccountView",
    "BreakerState",
    "ConfidenceWeighted",
    "EntryProposal",
    "FixedFraction",
    "FixedRisk",
    "KellyCapped",
    "PositionSizer",
    "Requested",
    "RiskDecision",
    "RiskEvent",
    "RiskLimits",
    "RiskManager",
    "VolatilityTarget",
    "create_sizer",
    "describe_sizer",
    "merge",
    "merge_layers",
    "pairwise_rolling_correlations",
    "rolling_correlation",
    "rule_of",
    "simple_returns",
    "sizer_names",
]
