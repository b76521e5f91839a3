"""The account's jobs (`/opentrain jobs`), newest first: one compact section each — the title
linked to the job on OpenTrain, its status and proposal counts — with **Proposals**, which
lists that job's proposals as `/opentrain proposals <jobId>` does."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.cards import facts
from bot.cards.ids import ActionId
from bot.cards.layout import plural, within_budget
from bot.cards.links import approval_link_allowed, opentrain_link
from bot.cards.message import SlackMessage
from bot.cards.text import CONTEXT_ELEMENT, clean, clip, code, esc, fallback, link, mrkdwn, plain
from bot.opentrain import MyJob

MAX_SHOWN = 20  # one block each; a list is for scanning, a status narrows it
TITLE_TEXT = 150
STATUS_TEXT = 40  # statuses are short enum words
URL_TEXT = 500  # a longer link is not worth its share of the message's text


def jobs_list(
    jobs: Sequence[MyJob], *, status: str | None, more: bool, opentrain_host: str
) -> SlackMessage:
    which = _status_words(status) if status else "current"
    if not jobs:
        text = f"This OpenTrain account has no {which} jobs."
        return SlackMessage(text=fallback(text), blocks=[SectionBlock(text=plain(text))])
    entries = [_entry(job, opentrain_host) for job in jobs[:MAX_SHOWN]]
    shown = entries[: within_budget(entries)]
    note = f"{plural(len(jobs), 'job')} ({esc(which)}), newest first."
    if status is None:
        note += " Completed and archived ones are left out: `/opentrain jobs archived` shows those."
    blocks: list[Block] = [
        HeaderBlock(text="Your OpenTrain jobs"),
        ContextBlock(
            elements=[mrkdwn(f"{note} *Proposals* lists a job's proposals.", CONTEXT_ELEMENT)]
        ),
        *shown,
    ]
    hidden = len(jobs) - len(shown)
    if hidden or more:
        rest = f"…and {hidden} more" if hidden else "…and more"
        hint = esc("/opentrain jobs <status>")
        blocks.append(
            ContextBlock(elements=[mrkdwn(f"{rest}: narrow with `{hint}`.", CONTEXT_ELEMENT)])
        )
    titles = ", ".join(_title(job) for job in jobs[: len(shown)])
    return SlackMessage(text=fallback(f"Your OpenTrain jobs: {titles}"), blocks=blocks)


def _entry(job: MyJob, opentrain_host: str) -> SectionBlock:
    title = _title(job)
    url = _job_url(job, opentrain_host)
    parts = [f"*{link(url, title)}*" if url else f"*{esc(title)}*"]
    if job.status:
        parts.append(esc(_status_words(job.status)))
    parts.append(_counts(job))
    return SectionBlock(
        text=mrkdwn(f"{' · '.join(parts)}\nJob {code(job.id)}"),
        accessory=facts.value_button("Proposals", ActionId.OPEN_JOB_PROPOSALS, job.id),
    )


def _title(job: MyJob) -> str:
    return clip(clean(job.title or ""), TITLE_TEXT) or job.id


def _job_url(job: MyJob, opentrain_host: str) -> str | None:
    """The job's page, only on the OpenTrain host (the rule approval links follow)."""
    if job.job_url is None:
        # derived: OpenTrain's `jobUrl` is `https://<host>/jobs/<id>`.
        url = opentrain_link(opentrain_host, f"/jobs/{job.id}")
    else:
        url = job.job_url if approval_link_allowed(job.job_url, opentrain_host) else None
    return url if url is not None and len(url) <= URL_TEXT else None


def _counts(job: MyJob) -> str:
    counts = job.proposal_counts
    if counts is None:
        return "proposals not counted"
    return f"{plural(counts.total, 'proposal')}, {counts.unreviewed} unreviewed"


def _status_words(status: str) -> str:
    return clip(clean(status).replace("_", " ").lower(), STATUS_TEXT)
