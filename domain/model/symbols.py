"""Symbols and their exchange rules (tick size, step size, minimum notional)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from domain.model.errors import InvalidOrder, UnknownSymbol

# Longest first, so that "USDT" wins over "USD" when parsing "BTCUSDT".
KNOWN_QUOTES: tuple[str, ...] = (
    "USDT",
    "USDC",
    "FDUSD",
    "BUSD",
    "TUSD",
    "USD",
    "EUR",
    "GBP",
    "BTC",
    "ETH",
    "BNB",
)


@dataclass(frozen=True, slots=True)
class Symbol:
    """A traded pair, e.g. BTC quoted in USDT. ``str(symbol)`` is the exchange form ``BTCUSDT``."""

    base: str
    quote: str
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for part in (self.base, self.quote):
            if not part or not part.isalnum() or part.upper() != part:
                raise UnknownSymbol(f"invalid symbol part {part!r}: use upper-case letters and digits")
        # Symbols key every position and order map: hash once, not at each lookup.
        object.__setattr__(self, "_hash", hash((self.base, self.quote)))

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return f"{self.base}{self.quote}"

    @classmethod
    def parse(cls, text: str) -> Symbol:
        """Parse ``BTCUSDT``, ``BTC-USDT`` or ``BTC/USDT`` (case-insensitive)."""
        raw = text.strip().upper()
        for sep in ("-", "/", "_"):
            if sep in raw:
                base, _, quote = raw.partition(sep)
                return cls(base, quote)
        for quote in KNOWN_QUOTES:
            if raw.endswith(quote) and len(raw) > len(quote):
                return cls(raw[: -len(quote)], quote)
        raise UnknownSymbol(f"cannot tell base from quote in {text!r}; write it as BASE-QUOTE, e.g. BTC-USDT")


@dataclass(frozen=True, slots=True)
class Instrument:
    """A symbol with the exchange's trading rules.

    Prices are multiples of ``tick_size`` and quantities multiples of ``step_size`` (both in their own
    currency units); an order's notional (price x quantity, in the quote currency) must reach ``min_notional``.
    """

    symbol: Symbol
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.00001")
    min_notional: Decimal = Decimal("10")
    # A tick of 1 x 10^k (0.01, 1, 10; not 0.010 or 0.5): rounding to it is one quantize.
    _decimal_tick: bool = field(default=False, init=False, repr=False, compare=False)
    _snap: Decimal = field(default=Decimal(0), init=False, repr=False, compare=False)  # see _to_grid

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.step_size <= 0 or self.min_notional < 0:
            raise InvalidOrder(f"{self.symbol}: tick and step sizes must be positive, min notional >= 0")
        object.__setattr__(self, "_decimal_tick", self.tick_size.as_tuple().digits == (1,))
        object.__setattr__(self, "_snap", self.tick_size * _SNAP)

    def round_price(self, price: Decimal | float) -> Decimal:
        """Round a price to the nearest tick (half to even)."""
        if self._decimal_tick:  # the same value and exponent as ticks x tick below
            return _as_decimal(price).quantize(self.tick_size, rounding=ROUND_HALF_EVEN)
        ticks = (_as_decimal(price) / self.tick_size).quantize(_ONE, rounding=ROUND_HALF_EVEN)
        return ticks * self.tick_size

    def round_stop(self, price: Decimal | float, long: bool) -> Decimal:
        """A stop-loss price on the tick grid, rounded away from the price it protects: a long's stop
        (a sell below the price) down, a short's stop (a buy above it) up. Rounding never tightens a stop
        past what was asked, so it cannot land on the entry side of the price it was computed from."""
        return self._to_grid(price, ROUND_FLOOR if long else ROUND_CEILING)

    def round_target(self, price: Decimal | float, long: bool) -> Decimal:
        """A take-profit price on the tick grid, rounded so that it is not easier to reach than asked:
        a long's target (a sell above the price) up, a short's target (a buy below it) down."""
        return self._to_grid(price, ROUND_CEILING if long else ROUND_FLOOR)

    @property
    def price_decimals(self) -> int:
        """How many decimals a price on the tick grid needs (0.01 -> 2, 0.00000001 -> 8, 10 -> 0)."""
        return max(0, -int(self.tick_size.normalize().as_tuple().exponent))

    @property
    def quantity_decimals(self) -> int:
        """How many decimals a quantity on the step grid needs."""
        return max(0, -int(self.step_size.normalize().as_tuple().exponent))

    def _to_grid(self, price: Decimal | float, rounding: str) -> Decimal:
        """``price`` on the tick grid, rounded the way ``rounding`` says (``ROUND_FLOOR`` or ``ROUND_CEILING``);
        a price within a millionth of a tick of the next grid point is on it (float arithmetic gives
        100 x 1.1 = 110.00000000000001, which must not become 110.01)."""
        value = _as_decimal(price)
        tick = self.tick_size
        if self._decimal_tick:
            directed = value.quantize(tick, rounding=rounding)
        else:
            directed = (value / tick).quantize(_ONE, rounding=rounding) * tick
        gap = value - directed if rounding == ROUND_FLOOR else directed - value  # in [0, tick)
        if gap and tick - gap <= self._snap:  # just short of the next grid point: it is that point
            return directed + tick if rounding == ROUND_FLOOR else directed - tick
        return directed

    def round_quantity(self, quantity: Decimal | float) -> Decimal:
        """Round a quantity down to the step grid: never trade more than was asked for."""
        steps = (_as_decimal(quantity) / self.step_size).to_integral_value(rounding=ROUND_DOWN)
        return steps * self.step_size

    def check_notional(self, price: Decimal, quantity: Decimal) -> None:
        """Raise :class:`InvalidOrder` when ``price * quantity`` is below the exchange minimum."""
        notional = price * quantity
        if notional < self.min_notional:
            raise InvalidOrder(
                f"{self.symbol}: order notional {notional:f} {self.symbol.quote} is below the exchange "
                f"minimum of {self.min_notional:f}"
            )


_ONE = Decimal(1)
_SNAP = Decimal("1e-6")  # a price this close to a grid point, in ticks, is on it


def _as_decimal(value: Decimal | float) -> Decimal:
    """A float as the decimal it prints as (its shortest repr), not its binary expansion; a Decimal as is
    (``Decimal(str(d))`` is ``d``, so skipping the round trip changes nothing)."""
    return value if type(value) is Decimal else Decimal(str(value))
