"""Modal submissions: the hire modal and the milestone modal.

Bad values are answered inside the modal (`response_action: errors`, under the
offending input) and nothing is sent to OpenTrain. Valid ones close the modal
at once; the OpenTrain call follows and its result reaches the person as a
private message in the channel the command was typed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import cards, forms
from bot.explain import NotPossible
from bot.money import milestone_volume
from bot.opentrain import Milestone, OpenTrainError, OpenTrainUnavailable
from bot.opentrain.models import HireTerms
from bot.roles import Actor
from bot.services import Services
from bot.tracked_approvals import Requester
from handlers.guard import Listeners
from handlers.replies import deliver_receipt, error_message, progress, with_progress

log = logging.getLogger(__name__)


UNREADABLE_FORM = (
    "This form could not be read (it may come from an older version of the bot), so nothing "
    "was done. Start again with `/opentrain`."
)


class UnreadableForm(NotPossible):
    """A submission without the metadata or the values the bot's own modals carry."""

    def __init__(self) -> None:
        super().__init__(UNREADABLE_FORM)


@dataclass(frozen=True)
class Submission:
    user_id: str
    channel_id: str | None  # where the command was typed (from the modal's private_metadata)
    meta: dict[str, Any]
    values: forms.Values
    team_id: str | None = None  # the submitting user's own team, as the payload says

    @classmethod
    def of(cls, body: dict[str, Any], view: dict[str, Any], *, needs: str) -> Submission:
        """The submission of one of our modals, whose metadata names `needs` (an id)."""
        meta = forms.modal_metadata(view.get("private_metadata"))
        values = (view.get("state") or {}).get("values")
        if meta is None or not isinstance(values, dict) or not meta.get(needs):
            raise UnreadableForm
        channel = meta.get("channelId")
        team = body["user"].get("team_id")
        return cls(
            user_id=str(body["user"]["id"]),
            channel_id=str(channel) if channel else None,
            meta=meta,
            values=values,
            team_id=str(team) if team else None,
        )

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.team_id)


def register(app: Listeners, services: Services) -> None:
    @app.view(cards.CallbackId.HIRE.value)
    async def hire_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            submission = Submission.of(body, view, needs="proposalId")
            terms = forms.hire_terms(
                submission.values,
                today=forms.earliest_today(services.clock.now()),
                max_amount=services.settings.max_amount_usd,
            )
            proposal_id = str(submission.meta["proposalId"])
        except forms.FormErrors as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        except Exception as exc:
            await _failed_before_work(services, ack, body, exc)
            return
        await ack()
        try:
            await _hire(services, submission, proposal_id, terms)
        except Exception as exc:
            await _hire_failed(services, submission, proposal_id, terms, exc)

    @app.view(cards.CallbackId.MILESTONE.value)
    async def milestone_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        try:
            submission = Submission.of(body, view, needs="contractId")
            draft = forms.milestone_draft(
                submission.values, max_amount=services.settings.max_amount_usd
            )
            contract_id = str(submission.meta["contractId"])
        except forms.FormErrors as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        except Exception as exc:
            await _failed_before_work(services, ack, body, exc)
            return
        await ack()
        try:
            message = await _create_milestone(services, submission, contract_id, draft)
        except Exception as exc:
            message = error_message(exc)
        await services.notifier.ephemeral(submission.channel_id, submission.user_id, message)


async def _hire(
    services: Services, submission: Submission, proposal_id: str, terms: HireTerms
) -> None:
    await services.roles.require(submission.actor, "request", "hire on OpenTrain")
    outcome = await with_progress(
        services.cosign.hire(
            proposal_id,
            terms,
            requester=Requester(kind="slack", id=submission.user_id),
            channel_id=submission.channel_id,
        ),
        lambda: _tell(
            services, submission, progress(f"Asking OpenTrain to hire on proposal {proposal_id}…")
        ),
    )
    await deliver_receipt(lambda message: _tell(services, submission, message), services, outcome)


async def _hire_failed(
    services: Services,
    submission: Submission,
    proposal_id: str,
    terms: HireTerms,
    error: Exception,
) -> None:
    """Explain; keep the exact terms behind "Hire anyway"; show the contract of a done hire."""
    draft_id = None
    reason = error.reason if isinstance(error, OpenTrainError) else None
    if reason == "not_fit_confirmation_required":
        draft = await services.cosign.save_draft(proposal_id, terms, submission.channel_id)
        draft_id = draft.draft_id
    await _tell(services, submission, error_message(error, hire_anyway_value=draft_id))
    if reason == "already_accepted":
        try:
            contract = await services.cosign.existing_contract(proposal_id)
        except OpenTrainError as exc:
            log.info("existing contract unavailable error=%s", exc.code)
            return
        if contract is not None:
            detail = cards.contract_detail(
                contract, opentrain_host=services.settings.opentrain_host
            )
            await _tell(services, submission, detail)


async def _create_milestone(
    services: Services, submission: Submission, contract_id: str, draft: forms.MilestoneDraft
) -> cards.SlackMessage:
    await services.roles.require(submission.actor, "request", "add milestones")
    try:
        milestone = await with_progress(
            _add_milestone(services, contract_id, draft),
            lambda: _tell(
                services,
                submission,
                progress(f"Asking OpenTrain to add the milestone to {contract_id}…"),
            ),
        )
    except OpenTrainError as exc:
        if not isinstance(exc, OpenTrainUnavailable) and (exc.status or 0) < 500:
            raise
        # A direct write is not idempotent: unlike a co-sign request, asking again after a
        # lost answer would add a second milestone, so the usual "try again" would mislead.
        raise NotPossible(
            "OpenTrain failed or did not answer in time, and it may have added the milestone "
            f"anyway. Check `/opentrain contract {contract_id}` before adding it again: adding "
            "it twice creates two milestones.",
            request_id=exc.request_id,
        ) from exc
    return cards.milestone_created(
        milestone.name or draft.name,
        milestone.amount_usd or draft.amount,
        contract_id,
        milestone.id,
    )


async def _add_milestone(
    services: Services, contract_id: str, draft: forms.MilestoneDraft
) -> Milestone:
    """Hourly and per-label contracts take the milestone as a volume at their rate."""
    contract = await services.opentrain.get_contract(contract_id)
    try:
        volume = milestone_volume(draft.amount, contract)
    except ValueError as exc:
        raise NotPossible(f"No milestone was added. {exc}.") from None
    return await services.opentrain.create_milestone(
        contract_id,
        name=draft.name or None,
        description=draft.description,
        amount_usd=draft.amount,
        volume=volume,
    )


async def _failed_before_work(
    services: Services, ack: AsyncAck, body: dict[str, Any], error: Exception
) -> None:
    """A submission we could not even read: close the modal and say so (by DM), never a 500."""
    await ack()
    await services.notifier.ephemeral(None, str(body["user"]["id"]), error_message(error))


async def _tell(services: Services, submission: Submission, message: cards.SlackMessage) -> None:
    await services.notifier.ephemeral(submission.channel_id, submission.user_id, message)
