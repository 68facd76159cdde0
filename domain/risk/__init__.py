"""Risk: position sizing and the risk manager's rules. Pure functions and small value objects.

The engine asks a sizer how much of the equity an entry should commit, then the risk manager what it may
commit; a denial or a cut is a returned :class:`RiskDecision` with reasons, never an exception.
"""

from domain.risk.types import AccountView, EntryProposal, PositionSizer, RiskDecision

__all__ = ["AccountView", "EntryProposal", "PositionSizer", "RiskDecision"]
