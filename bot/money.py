"""Money: fees, the cost of a hire, strict reading of typed amounts, dollars in words.

Always `Decimal`; an amount is read strictly (never `1,50` as 150) or refused with a reason.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from bot.opentrain.models import Contract, Milestone

CENT = Decimal("0.01")
MARKETPLACE_FEE_RATE = Decimal("0.10")
CONTRACT_INITIATION_FEE = Decimal("9.95")

# --- money -------------------------------------------------------------------


class HireCost(NamedTuple):
    amount: Decimal
    marketplace_fee: Decimal
    initiation_fee: Decimal
    total: Decimal


def hire_cost(amount: Decimal) -> HireCost:
    """What the human confirms for a hire: amount + 10 % marketplace fee + $9.95 initiation."""
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    fee = (amount * MARKETPLACE_FEE_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
    return HireCost(amount, fee, CONTRACT_INITIATION_FEE, amount + fee + CONTRACT_INITIATION_FEE)


# What a person types for dollars: ASCII digits, commas only between thousands, cents after a dot.
# A leading minus is matched only to answer "more than $0" rather than "not an amount".
AMOUNT = re.compile(
    r"(?P<minus>-)?\$?(?P<dollars>[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]+))?"
)
# The European way to write 1.50 or 1,234.56: "1,50", "1,5", "1.234,56".
EUROPEAN_AMOUNT = re.compile(
    r"\$?(?P<dollars>[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+),(?P<cents>[0-9]{1,2})"
)


def parse_amount(text: str, maximum: Decimal) -> Decimal:
    """A USD amount as a person types it ("450", "$1,250.50"); ValueError says what is wrong.

    Accepted: an optional `$`, ASCII digits either ungrouped or with commas between groups
    of three (`1,500`), and an optional dot with one or two digits of cents. Anything else
    is refused rather than guessed at — above all a decimal comma (`1,50`), which read
    as a thousands separator would multiply money by 100. So are exponents (`1E+3` is
    how a JSON number can arrive), signs, spaces inside and other digit systems.
    """
    typed = text.strip()
    shown = typed if len(typed) <= 40 else typed[:39] + "…"  # it is quoted back
    if european := EUROPEAN_AMOUNT.fullmatch(typed):
        meant = Decimal(f"{european['dollars'].replace('.', '')}.{european['cents']}")
        raise ValueError(
            f"“{shown}” uses a comma for cents. Did you mean {meant:,.2f}? "
            "Put a dot before the cents; commas only between thousands"
        )
    match = AMOUNT.fullmatch(typed)
    if match is None:
        raise ValueError(f"“{shown}” is not an amount — type dollars like 450 or 450.50")
    if len(match["cents"] or "") > 2:
        raise ValueError("the amount can have at most two decimals (cents)")
    amount = Decimal(f"{match['dollars'].replace(',', '')}.{match['cents'] or 0}")
    if match["minus"] or amount <= 0:
        raise ValueError("the amount must be more than $0")
    if amount > maximum:
        raise ValueError(f"the amount must be at most {format_usd(maximum)}")
    return amount.quantize(CENT)


def usd_text(amount: Decimal | None) -> str | None:
    """Exact cents as a JSON-safe string ("1350.00"), for agents and the audit log."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}" if amount is not None else None


def format_usd(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def milestone_amount(milestone: Milestone, contract: Contract) -> Decimal | None:
    """A milestone's USD amount; for hourly and per-label contracts its volume × the rate."""
    if milestone.amount_usd is not None:
        return milestone.amount_usd
    if milestone.volume is not None and contract.rate_usd is not None:
        return (milestone.volume * contract.rate_usd).quantize(CENT, rounding=ROUND_HALF_UP)
    return None


VOLUME_UNITS = {"PAY_PER_HOUR": ("hour", Decimal("0.01")), "PAY_PER_LABEL": ("label", Decimal(1))}


def milestone_volume(amount: Decimal, contract: Contract) -> Decimal | None:
    """The hours or labels `amount` buys on an hourly or per-label contract, which OpenTrain
    wants as `volume` priced at the contract's rate (opentrain-api.md §10.2); None on a
    fixed-price contract or one without a rate. ValueError when `amount` is not a whole
    number of labels (or of hundredths of an hour) at that rate, naming one that is."""
    unit = VOLUME_UNITS.get(contract.payment_type or "")
    rate = contract.rate_usd
    if unit is None or not rate:
        return None
    name, step = unit
    volume = amount / rate
    whole = volume.quantize(step, rounding=ROUND_DOWN)
    if volume == whole and whole > 0:
        return whole
    nearest = max(whole, step)
    raise ValueError(
        f"At {format_usd(rate)} per {name}, {format_usd(amount)} is not a whole number of "
        f"{name}s: enter a multiple of the rate, e.g. {format_usd(nearest * rate)} for "
        f"{nearest.normalize():f} {name}{'' if nearest == 1 else 's'}"
    )


def escrow(contract: Contract) -> Decimal:
    """What a contract holds in escrow: its funded milestones."""
    funded = (m for m in contract.milestones if m.status == "ACTIVE_FUNDED")
    return sum((milestone_amount(m, contract) or Decimal(0) for m in funded), Decimal(0))
