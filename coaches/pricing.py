"""Comparing prices in different currencies, and ranking coaches by rating: the arithmetic, no queries.

Prices are compared in the marketplace's base currency (settings.DEFAULT_CURRENCY). Each service stores
its price converted to base minor units (CoachService.price_base_minor, rounded half up) at the rate staff
maintain in the console (coaches.ExchangeRate: units of a currency per one base unit). A visitor reads
prices in the currency they pick: base minor units → their currency, again rounded half up. Both
conversions are increasing, so ordering by the base price orders by every viewer currency, and a bound the
visitor types converts to an exact bound on the stored integer (`base_bounds`), which keeps the filter an
index range and makes it agree with the converted price the card shows, to the minor unit.

Exact fractions throughout (no float, no Decimal division), exponents from core.money.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from core.money import exponent

# The rating sort's Bayesian average: every coach starts with PRIOR_REVIEWS imaginary reviews of
# PRIOR_MEAN stars, so one 5-star review (score 3.75) does not outrank forty reviews averaging 4.6
# (score 4.48), and a new coach (3.50) sits between a proven good coach and a proven poor one.
RATING_PRIOR_MEAN = Decimal("3.5")
RATING_PRIOR_REVIEWS = 5


def rating_score(average: Decimal | float | int, count: int) -> Decimal:
    """(PRIOR_MEAN × PRIOR_REVIEWS + average × count) / (PRIOR_REVIEWS + count), to 4 decimals."""
    total = RATING_PRIOR_MEAN * RATING_PRIOR_REVIEWS + Decimal(str(average)) * count
    return (total / (RATING_PRIOR_REVIEWS + count)).quantize(Decimal("0.0001"))


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _factor(currency: str, units_per_base: Decimal, base: str) -> Fraction:
    """Minor units of `currency` per base minor unit."""
    return Fraction(units_per_base) * Fraction(10) ** (exponent(currency) - exponent(base))


def to_base_minor(price_minor: int, currency: str, units_per_base: Decimal, base: str) -> int:
    """A price in `currency` minor units → base minor units (half up)."""
    return _round_half_up(Fraction(price_minor) / _factor(currency, units_per_base, base))


def from_base_minor(base_minor: int, currency: str, units_per_base: Decimal, base: str) -> int:
    """Base minor units → minor units of the viewer's `currency` (half up): what a card shows."""
    return _round_half_up(base_minor * _factor(currency, units_per_base, base))


def base_bounds(
    low: int | None, high: int | None, currency: str, units_per_base: Decimal, base: str
) -> tuple[int | None, int | None]:
    """Bounds typed in `currency` minor units → bounds on base minor units, exactly:
    for every integer p ≥ 0, from_base_minor(p) ≤ high ⇔ p ≤ high_base, and ≥ low ⇔ p ≥ low_base.

    round_half_up(p·f) ≤ H ⇔ p·f < H + ½ ⇔ p ≤ ⌈(H + ½)/f⌉ − 1; round_half_up(p·f) ≥ L ⇔ p ≥ ⌈(L − ½)/f⌉.
    """
    f = _factor(currency, units_per_base, base)
    low_base = None if low is None else max(0, math.ceil((low - Fraction(1, 2)) / f))
    high_base = None if high is None else math.ceil((high + Fraction(1, 2)) / f) - 1
    return low_base, high_base
