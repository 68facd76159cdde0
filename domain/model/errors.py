"""Errors raised by the domain. Each carries a message a person can act on."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the domain raises."""


class InvalidCandles(DomainError):
    """A candle series breaks a data rule.

    ``row`` is the 0-based index of the offending bar in the series, ``rule`` names the rule broken.
    Adapters that read files translate the row into a file line.
    """

    def __init__(self, row: int, rule: str) -> None:
        super().__init__(f"row {row}: {rule}")
        self.row = row
        self.rule = rule


class InvalidOrder(DomainError):
    """An order request that can never be valid (non-positive quantity, price off the tick grid...)."""


class InvalidParameter(DomainError):
    """A strategy or risk parameter outside its documented domain."""


class UnknownSymbol(DomainError):
    """A symbol that cannot be parsed or is not known."""
