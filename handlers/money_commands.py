"""The commands that ask for money to move: `hire`, `fund`, `payout`, `end`, `milestone`,
`track` (a human confirms each in OpenTrain; the bot never moves money).

Their roles are checked before they run (the command table in handlers/commands.py).
"""

from __future__ import annotations

from bot import parsing
from bot.services import Services
from handlers.replies import Asked, deliver_receipt
from handlers.steps import end_contract, milestone_modal, open_hire_modal, open_view


async def hire(services: Services, hire: parsing.Hire, asked: Asked) -> None:
    await open_hire_modal(
        services,
        proposal_id=hire.proposal_id,
        channel_id=asked.channel_id,
        trigger_id=asked.trigger_id,
        name=hire.name,
        amount=hire.amount,
    )


async def fund(services: Services, ref: parsing.MilestoneRef, asked: Asked) -> None:
    outcome = await services.cosign.fund(
        ref.milestone_id, requester=asked.requester, channel_id=asked.channel_id
    )
    await deliver_receipt(asked.reply.send, services, outcome)


async def payout(services: Services, ref: parsing.MilestoneRef, asked: Asked) -> None:
    outcome = await services.cosign.payout(
        ref.milestone_id, requester=asked.requester, channel_id=asked.channel_id
    )
    await deliver_receipt(asked.reply.send, services, outcome)


async def end(services: Services, ref: parsing.ContractRef, asked: Asked) -> None:
    await end_contract(services, ref.contract_id, asked.requester, asked.channel_id, asked.reply)


async def milestone(services: Services, ref: parsing.ContractRef, asked: Asked) -> None:
    view = milestone_modal(ref.contract_id, asked.channel_id)
    await open_view(services.slack, asked.trigger_id, view)


async def track(services: Services, ref: parsing.ApprovalRef, asked: Asked) -> None:
    outcome = await services.cosign.track(
        ref.approval_id, requester=asked.requester, channel_id=asked.channel_id
    )
    await deliver_receipt(asked.reply.send, services, outcome)
