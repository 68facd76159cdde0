"""Errors of the metrics package."""

from __future__ import annotations

from domain.model.errors import DomainError


class InvalidMetricsInput(DomainError, ValueError):
    """Inputs that cannot describe one equity curve: arrays of different lengths, marks out of time order.

    An undefined metric is never an error (it is NaN); this is raised only for a caller's mistake.
    """
