"""What a job's activity looks like in its channel (`/opentrain subscribe`): a new proposal,
a budget running out, work waiting for its payout, the trainer's messages, and the
subscriptions themselves.

A trainer's message is their own typing: escaped, so `<!channel>` or `<https://evil|x>`
shows as written and pings or links nobody.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    SectionBlock,
)

from bot.cards.facts import value_button
from bot.cards.ids import ActionId
from bot.cards.message import SlackMessage
from bot.cards.proposals import proposal_blocks, who
from bot.cards.text import (
    SECTION_TEXT,
    channel_ref,
    clean,
    clip,
    code,
    esc,
    fallback,
    mrkdwn,
    plain,
)
from bot.money import format_usd
from bot.opentrain import Contract, Milestone, Proposal
from bot.store.kinds import JobSubscription, Topic

# A trainer's message (OpenTrain allows 10 000 characters) in sections of Slack's 3 000.
MESSAGE_SECTIONS = 4
TOPIC_WORDS = {
    Topic.PROPOSALS: "new proposals",
    Topic.MESSAGES: "trainer messages (replies in their thread go back)",
    Topic.BUDGET: "budgets running low",
    Topic.WORK: "work waiting for its payout",
}


def proposal_notice(proposal: Proposal, *, opentrain_host: str) -> SlackMessage:
    job = clean(proposal.job_title or "") or proposal.job_id or "your job"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f":inbox_tray: *New proposal* on {esc(job)}"))]
    blocks += proposal_blocks(proposal, opentrain_host)
    return SlackMessage(text=fallback(f"New proposal from {who(proposal)} on {job}"), blocks=blocks)


def budget_notice(contract: Contract, state: str) -> SlackMessage:
    """A contract's budget is LOW or DEPLETED: add and fund the next milestone."""
    name = _freelancer(contract)
    budget = contract.budget
    used = ""
    if budget is not None and budget.consumed_fraction is not None:
        used = f" ({int(budget.consumed_fraction * 100)} % of the funded work is used)"
    if state == "DEPLETED":
        head = f":red_circle: *Budget used up* on the contract with {esc(name)}{used}."
        tail = "The trainer has no funded work left: add and fund a milestone to continue."
    else:
        head = f":large_orange_circle: *Budget running low* on the contract with {esc(name)}{used}."
        tail = "Add and fund the next milestone before it runs out."
    return _action_notice(
        summary=f"Budget {state.lower()} on the contract with {name}",
        text=f"{head}\n{tail}",
        context=f"{_job(contract)} · contract {code(contract.id)}",
        button=value_button(
            "Add & fund a milestone", ActionId.ADD_MILESTONE, contract.id, primary=True
        ),
    )


def work_notice(contract: Contract, milestone: Milestone) -> SlackMessage:
    """The trainer submitted the work of a funded milestone; its payment waits for release."""
    name = _freelancer(contract)
    which = clean(milestone.name or "") or f"milestone #{milestone.milestone_number or '?'}"
    amount = f" ({format_usd(milestone.amount_usd)})" if milestone.amount_usd is not None else ""
    return _action_notice(
        summary=f"{name} submitted work on {which}: the payout is waiting",
        text=(
            f":package: *{esc(name)} submitted work* on {esc(which)}{amount}.\n"
            "Review it in OpenTrain, then release the payout (a human confirms it there)."
        ),
        context=f"Milestone {code(milestone.id)}",
        button=value_button("Release payout", ActionId.REQUEST_PAYOUT, milestone.id, primary=True),
    )


def trainer_message(contract: Contract, content: str) -> SlackMessage:
    """One message from the trainer, in the contract's thread, shown exactly as typed."""
    name = _freelancer(contract)
    # plain_text: Slack parses none of it, so nothing the trainer types can ping or link.
    text = clean(content, multiline=True)
    chunks = [text[i : i + SECTION_TEXT] for i in range(0, len(text), SECTION_TEXT)]
    blocks: list[Block] = [ContextBlock(elements=[mrkdwn(f":speech_balloon: *{esc(name)}*")])]
    blocks += [SectionBlock(text=plain(chunk)) for chunk in chunks[:MESSAGE_SECTIONS]]
    return SlackMessage(text=fallback(f"{name}: {clip(clean(content), 200)}"), blocks=blocks)


def continued_in(contract: Contract, channel: str) -> SlackMessage:
    """Under a hire card: where the contract's activity is followed (another channel)."""
    name = _freelancer(contract)
    text = f":speech_balloon: Messages with {esc(name)} and this contract's news continue in "
    return SlackMessage(
        text=fallback(f"Messages with {name} continue in another channel"),
        blocks=[_section(text + f"{channel_ref(channel)}.")],
    )


def reply_not_sent(reason: str) -> SlackMessage:
    """A reply in a contract's thread that OpenTrain did not pass on, and why."""
    return SlackMessage(
        text=fallback(f"Not sent to the trainer: {reason}"),
        blocks=[SectionBlock(text=mrkdwn(f":warning: *Not sent to the trainer.* {esc(reason)}"))],
    )


def subscribed(job_id: str, subscription: JobSubscription) -> SlackMessage:
    what = ", ".join(TOPIC_WORDS[t] for t in Topic if t in subscription.topics)
    text = f"{channel_ref(subscription.channel)} now hears about job {code(job_id)}: {esc(what)}."
    return SlackMessage(text=fallback(f"Subscribed to job {job_id}"), blocks=[_section(text)])


def subscriptions_list(
    subscriptions: Mapping[str, JobSubscription], *, channel: str | None
) -> SlackMessage:
    where = f" in {channel_ref(channel)}" if channel else ""
    if not subscriptions:
        text = f"No job is subscribed{where}. `/opentrain subscribe <jobId>` ties one here."
        return SlackMessage(text=fallback("No job subscriptions"), blocks=[_section(text)])
    lines = [f"*Job subscriptions{where}*"]
    for job_id, sub in sorted(subscriptions.items()):
        topics = ", ".join(t.value for t in Topic if t in sub.topics)
        lines.append(f"• {code(job_id)} → {channel_ref(sub.channel)}: {topics}")
    return SlackMessage(
        text=fallback(f"{len(subscriptions)} job subscriptions"),
        blocks=[_section("\n".join(lines))],
    )


def _action_notice(*, summary: str, text: str, context: str, button: ButtonElement) -> SlackMessage:
    """Something to act on: what happened (our mrkdwn), where, and the one button that acts."""
    return SlackMessage(
        text=fallback(summary),
        blocks=[
            SectionBlock(text=mrkdwn(text)),
            ContextBlock(elements=[mrkdwn(context)]),
            ActionsBlock(elements=[button]),
        ],
    )


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn(text))


def _freelancer(contract: Contract) -> str:
    name = clean(contract.freelancer.display_name or "") if contract.freelancer else ""
    return name or "the trainer"


def _job(contract: Contract) -> str:
    return esc(clean(contract.title or "")) or f"job {code(contract.job_id or '?')}"
