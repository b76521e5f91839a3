"""Money rules: USD amounts are `Decimal` dollars, credit balances are integer cents."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MARKETPLACE_FEE_RATE = Decimal("0.10")
INITIATION_FEE_CENTS = 995  # the $9.95 contract initiation fee (opentrain-api.md §6.4)


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def json_number(amount: Decimal) -> int | float:
    """OpenTrain sends USD as JSON numbers; integral amounts print without a fraction."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)


def has_at_most_two_decimals(amount: Decimal) -> bool:
    return amount == amount.quantize(CENT)


@dataclass(frozen=True)
class HireCost:
    """What confirming a hire charges: milestone + 10 % marketplace fee + $9.95 initiation."""

    amount_cents: int
    marketplace_fee_cents: int
    initiation_fee_cents: int

    @property
    def total_cents(self) -> int:
        return self.amount_cents + self.marketplace_fee_cents + self.initiation_fee_cents


def hire_cost(amount: Decimal) -> HireCost:
    amount_cents = to_cents(amount)
    fee_cents = int(
        (Decimal(amount_cents) * MARKETPLACE_FEE_RATE).to_integral_value(rounding=ROUND_HALF_UP)
    )
    return HireCost(amount_cents, fee_cents, INITIATION_FEE_CENTS)
