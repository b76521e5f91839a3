"""The look-up commands: `pending`, `contracts`, `contract`, `jobs`, `proposals`, `status`.

Their roles are checked before they run (the command table in handlers/commands.py).
"""

from __future__ import annotations

from bot import cards, parsing
from bot.doctor import opentrain_checks, redis_checks
from bot.my_jobs import my_jobs
from bot.proposals import job_proposals
from bot.services import Services
from bot.tracked_approvals import TrackedStatus
from handlers.replies import Asked


async def pending(services: Services, args: parsing.NoArgs, asked: Asked) -> None:
    """Pending approvals; someone who is not an admin sees those of their own channels only."""
    pending = await services.store.list_approvals(status=TrackedStatus.PENDING)
    if not await services.roles.is_admin(asked.actor):
        channels = {a.channel_id for a in pending if a.channel_id}
        visible = {c for c in channels if asked.user_id in await services.people.channel_members(c)}
        pending = [a for a in pending if a.channel_id in visible]
    permalinks = {a.approval_id: a.card_permalink for a in pending if a.card_permalink}
    await asked.reply.send(
        cards.pending_list(pending, now=services.clock.now(), permalinks=permalinks)
    )


async def contracts(services: Services, args: parsing.Contracts, asked: Asked) -> None:
    contracts = await services.opentrain.list_contracts(status=args.status)
    host = services.settings.opentrain_host
    await asked.reply.send(cards.contracts_list(contracts, status=args.status, opentrain_host=host))


async def contract(services: Services, ref: parsing.ContractRef, asked: Asked) -> None:
    contract = await services.opentrain.get_contract(ref.contract_id)
    host = services.settings.opentrain_host
    await asked.reply.send(cards.contract_detail(contract, opentrain_host=host))


async def status(services: Services, args: parsing.NoArgs, asked: Asked) -> None:
    checks = await opentrain_checks(
        services.opentrain,
        services.settings.ot_api_base_url,
        webhook_secret_set=services.settings.ot_webhook_secret is not None,
    )
    checks += await redis_checks(services.settings)  # a Redis store that keeps its data
    await asked.reply.send(cards.status_report(checks))


async def jobs(services: Services, args: parsing.MyJobs, asked: Asked) -> None:
    listing = await my_jobs(services.opentrain, args.status)
    message = cards.jobs_list(
        listing.jobs,
        status=args.status,
        more=listing.more,
        opentrain_host=services.settings.opentrain_host,
    )
    await asked.reply.send(message)


async def proposals(services: Services, args: parsing.JobProposals, asked: Asked) -> None:
    listing = await job_proposals(services.opentrain, args.job_id, args.status)
    message = cards.proposals_list(
        listing.proposals,
        job_id=args.job_id,
        status=args.status,
        more=listing.more,
        opentrain_host=services.settings.opentrain_host,
    )
    await asked.reply.send(message)
