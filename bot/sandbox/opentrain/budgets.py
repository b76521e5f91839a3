"""A contract's budget (opentrain-api.md §9.1): usage against funded volume, and the
`contract.budget_state_changed` event when it crosses LOW (80 %) or DEPLETED (100 %).

Fixed-price contracts, and contracts with nothing funded, are always `OK`. The simulator
records usage only when told (`POST /_sim/contracts/{id}/usage`), as a trainer's hours or
labels would arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.sandbox.opentrain.errors import bad_request, not_found
from bot.sandbox.opentrain.model import Contract, Milestone
from bot.sandbox.opentrain.money import json_number
from bot.sandbox.opentrain.vocabulary import EventType, MilestoneStatus, PaymentType
from bot.sandbox.opentrain.world import World

LOW = Decimal("0.8")
DEPLETED = Decimal(1)
FRACTION = Decimal("0.0001")  # four decimals, as OpenTrain sends it
FUNDED = (MilestoneStatus.ACTIVE_FUNDED, MilestoneStatus.PAID)  # what the budget counts


@dataclass(frozen=True)
class Budget:
    state: str  # OK | LOW | DEPLETED
    funded_volume: Decimal
    funded_amount_usd: Decimal
    consumed_volume: Decimal
    consumed_fraction: Decimal

    @property
    def remaining_volume(self) -> Decimal:
        return max(self.funded_volume - self.consumed_volume, Decimal(0))


def budget_of(contract: Contract, listed: list[Milestone]) -> Budget:
    counted = [
        m for m in listed if m.status in (MilestoneStatus.ACTIVE_FUNDED, MilestoneStatus.PAID)
    ]
    funded = sum((m.volume or Decimal(0) for m in counted), Decimal(0))
    amount = sum((m.amount_usd for m in counted), Decimal(0))
    consumed = contract.consumed_volume
    if contract.payment_type is PaymentType.FIXED_PRICE or funded <= 0:
        return Budget("OK", funded, amount, consumed, Decimal(0))
    fraction = (consumed / funded).quantize(FRACTION)
    state = "DEPLETED" if fraction >= DEPLETED else "LOW" if fraction >= LOW else "OK"
    return Budget(state, funded, amount, consumed, fraction)


def record_usage(world: World, contract_id: str, volume: Decimal) -> Budget:
    """Add `volume` (hours or labels) of work to the contract; a new state fires the event."""
    contract = world.contracts.get(contract_id)
    if contract is None:
        raise not_found("contracts", "contractId", contract_id)
    if volume <= 0:
        raise bad_request("volume", "volume must be more than 0")
    listed = [m for m in world.milestones_of(contract) if m.status.listed]
    before = budget_of(contract, listed)
    contract.consumed_volume += volume
    contract.updated_at = world.now()
    after = budget_of(contract, listed)
    if after.state != before.state:
        world.emit(
            contract.account_id,
            EventType.CONTRACT_BUDGET_STATE_CHANGED,
            contract.id,
            contract.job_id,
            {
                "contractId": contract.id,
                "previousState": before.state,
                "state": after.state,
                "paymentType": contract.payment_type.value,
                "fundedVolume": json_number(after.funded_volume),
                "consumedVolume": json_number(after.consumed_volume),
                "remainingVolume": json_number(after.remaining_volume),
                "consumedFraction": json_number(after.consumed_fraction),
            },
        )
    return after
