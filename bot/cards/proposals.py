"""A job's proposals (`/opentrain proposals`), each with Hire…, Profile and Transcript, and
the AI interview's transcript as a read-only modal."""

from __future__ import annotations

import json
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    LinkButtonElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.cards.ids import ActionId, CallbackId
from bot.cards.layout import plural
from bot.cards.links import opentrain_link
from bot.cards.message import SlackMessage
from bot.cards.text import HEADER_TEXT, clean, clip, code, esc, fallback, mrkdwn, plain
from bot.money import format_usd
from bot.opentrain import Interview, Proposal

MAX_SHOWN = 10  # four blocks each, within Slack's 50
SUMMARY = 300
TRANSCRIPT_MESSAGES = 12
MESSAGE_TEXT = 600


def proposals_list(
    proposals: Sequence[Proposal],
    *,
    job_id: str,
    status: str | None,
    more: bool,
    opentrain_host: str,
) -> SlackMessage:
    which = status.lower().replace("_", " ") if status else "open"
    if not proposals:
        text = f"Job {job_id} has no {which} proposals."
        return SlackMessage(text=fallback(text), blocks=[SectionBlock(text=plain(text))])
    shown = list(proposals[:MAX_SHOWN])
    job = shown[0].job_title or job_id
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Proposals: {clean(job)}", HEADER_TEXT)),
        ContextBlock(
            elements=[
                mrkdwn(
                    f"{plural(len(proposals), 'proposal')} ({esc(which)}) on job {code(job_id)}, "
                    "best interview first. Hiring opens the form; a human still confirms in "
                    "OpenTrain."
                )
            ]
        ),
    ]
    for proposal in shown:
        blocks += proposal_blocks(proposal, opentrain_host)
    hidden = len(proposals) - len(shown)
    if hidden or more:
        rest = f"…and {hidden} more" if hidden else "…and more"
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(
                        f"{rest}: narrow with `{esc(f'/opentrain proposals {job_id} <status>')}`."
                    )
                ]
            )
        )
    names = ", ".join(who(p) for p in shown)
    return SlackMessage(text=fallback(f"Proposals on {job}: {names}"), blocks=blocks)


def proposal_blocks(proposal: Proposal, opentrain_host: str) -> list[Block]:
    metrics = proposal.metrics
    facts = [f"*{esc(who(proposal))}*"]
    if proposal.candidate and proposal.candidate.country:
        facts.append(esc(proposal.candidate.country))
    facts.append(_bid(proposal))
    if metrics and metrics.interview_score is not None:
        facts.append(f"interview {metrics.interview_score}")
    if metrics and metrics.match_score is not None:
        facts.append(f"match {metrics.match_score}")
    if proposal.status:
        facts.append(esc(proposal.status.label or proposal.status.raw.replace("_", " ").lower()))
    text = " · ".join(facts)
    summary = proposal.ai_interview.summary if proposal.ai_interview else None
    if summary:
        text += "\n> " + esc(clip(summary, SUMMARY))
    buttons: list[ButtonElement | LinkButtonElement] = [
        ButtonElement(
            text="Hire…",
            action_id=ActionId.HIRE_PROPOSAL,
            value=json.dumps(
                {"proposalId": proposal.id, "amount": _amount(proposal)}, separators=(",", ":")
            ),
            style="primary",
        )
    ]
    slug = proposal.candidate.profile_slug if proposal.candidate else None
    # unconfirmed: a profile's page is `/profile/<slug>` (as contracts' `profilePath` reads).
    profile = opentrain_link(opentrain_host, f"/profile/{slug}") if slug else None
    if profile:
        buttons.append(LinkButtonElement(text="Profile", url=profile, action_id=ActionId.OPEN_LINK))
    buttons.append(
        ButtonElement(text="Transcript", action_id=ActionId.OPEN_TRANSCRIPT, value=proposal.id)
    )
    return [
        SectionBlock(text=mrkdwn(text)),
        ContextBlock(elements=[mrkdwn(f"Proposal {code(proposal.id)}")]),
        ActionsBlock(elements=buttons),
    ]


def who(proposal: Proposal) -> str:
    candidate = proposal.candidate
    if candidate is None:
        return "A freelancer"
    if candidate.display_name:
        return clean(candidate.display_name)
    if candidate.first_name:
        initial = f" {candidate.last_name_initial}." if candidate.last_name_initial else ""
        return clean(candidate.first_name + initial)
    return "A freelancer"


def _bid(proposal: Proposal) -> str:
    bid = proposal.bid
    if bid is None or bid.amount_usd is None:
        return "no bid"
    unit = (bid.unit or "").lower().replace("_", " ")
    return f"{format_usd(bid.amount_usd)} {esc(unit)}".strip()


def _amount(proposal: Proposal) -> str | None:
    bid = proposal.bid
    return str(bid.amount_usd) if bid and bid.amount_usd is not None else None


def transcript_modal(interview: Interview, *, who: str) -> View:
    blocks: list[Block] = []
    if interview.summary:
        blocks.append(SectionBlock(text=mrkdwn(f"*Summary*\n{esc(clip(interview.summary, 2000))}")))
    if interview.score is not None:
        blocks.append(ContextBlock(elements=[plain(f"Interview score {interview.score}")]))
    for message in interview.messages[:TRANSCRIPT_MESSAGES]:
        speaker = "Interviewer" if message.role == "interviewer" else who
        blocks.append(
            SectionBlock(
                text=mrkdwn(f"*{esc(speaker)}*\n{esc(clip(message.content, MESSAGE_TEXT))}")
            )
        )
    hidden = len(interview.messages) - TRANSCRIPT_MESSAGES
    if hidden > 0:
        blocks.append(ContextBlock(elements=[plain(f"…and {hidden} more in OpenTrain.")]))
    if not blocks:
        blocks.append(SectionBlock(text=plain("The interview has no transcript yet.")))
    return View(
        type="modal",
        callback_id=CallbackId.TRANSCRIPT,
        title=clip(f"Interview: {who}", 24),
        close="Close",
        blocks=blocks,
    )
