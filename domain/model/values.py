"""The decorator of the domain's per-event value types: orders, fills, positions, trades.

A backtest builds several of these per fill, and a frozen dataclass sets each field through
``object.__setattr__`` (about three times the cost of a plain slotted class: ADR 0003). So at run time
these are slotted dataclasses with a normal ``__init__`` (which still runs ``__post_init__`` validation),
equality and hashing on their fields, and no write guard; to the type checker they are frozen, so any
assignment to a field after construction fails ``mypy``. They are immutable by that rule: build a new one
(``dataclasses.replace`` works) rather than assigning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

_T = TypeVar("_T")

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform

    @dataclass_transform(frozen_default=True)
    def value_object(cls: type[_T]) -> type[_T]: ...

else:

    def value_object(cls: type[Any]) -> type[Any]:
        return dataclass(slots=True, unsafe_hash=True)(cls)
