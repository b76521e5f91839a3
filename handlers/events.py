"""Events API listeners: approval links pasted in channels, replies to trainers.

A person's reply in the thread the bot keeps for a contract goes to its trainer
(`bot/trainer_replies.py`).

A person (or an agent's own Slack integration) pastes an `approvalUrl`. Slack
sends `link_shared` for links on our registered unfurl domain, and — where the
bot is a member — the message itself; either one is enough. For each OpenTrain
approval link the bot reads the approval by id from OpenTrain (never trusting
the pasted URL), adopts it with the sharer as requester and this channel for
its card, unfurls the link with the card, and answers once in the thread with
where the card is. A paste is answered once whichever events arrive (a claim per
message and approval); only `link_shared` may unfurl. Links to any other host are
ignored; an id OpenTrain does not know gets one short thread note. While a message
is still being typed, Slack's composer sends `link_shared` too (channel
`COMPOSER`): that only previews, never adopts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import cards
from bot.cosign import CoSignOutcome
from bot.explain import explain
from bot.logs import log_kv
from bot.opentrain import OpenTrainError
from bot.parsing import approval_id_from_link
from bot.roles import AccessDenied, Actor
from bot.services import Services
from bot.slack_ids import is_channel_id
from bot.tracked_approvals import Requester
from bot.trainer_replies import ThreadReply
from handlers.guard import Listeners
from handlers.replies import receipt

log = logging.getLogger(__name__)

PASTE_TTL = timedelta(hours=24)  # Slack retries an event for minutes, not days
MAX_LINKS = 5  # approvals answered per message; more is a list, not a request
URL = re.compile(r"https?://[^\s<>|]+")  # bare, or inside Slack's <url|label>
# Plain posts, other apps' posts (agents) and thread broadcasts; not edits, deletes or joins.
MESSAGE_SUBTYPES = frozenset({"bot_message", "thread_broadcast", "file_share"})


@dataclass(frozen=True)
class Paste:
    channel: str
    ts: str  # the message that carries the link
    thread_ts: str  # where the answer goes: the message's thread, or a new one under it
    sharer: str  # Slack user (or bot) id of whoever posted it
    approval_id: str
    unfurl_url: str | None  # set for link_shared: the URL Slack lets us unfurl
    sharer_team: str | None = None  # the sharer's own team, when the event says it


def register(app: Listeners, services: Services) -> None:
    host = services.settings.opentrain_host

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        # Slack sends the same event when the Messages tab is opened.
        if event.get("tab") != "home":
            return
        user_id = str(event["user"])
        await services.notifier.publish_home(user_id, await services.home.view_for(user_id))

    @app.event("link_shared")
    async def link_shared(event: dict[str, Any]) -> None:
        channel, ts = str(event.get("channel", "")), str(event.get("message_ts", ""))
        urls = [str(link.get("url", "")) for link in event.get("links", [])]
        if event.get("source") == "composer" or not is_channel_id(channel):
            # Still being typed (channel `COMPOSER`): a preview at most, never a card.
            await preview_in_composer(services, event, approval_links(urls, host))
            return
        if not ts:
            return
        for url, approval_id in approval_links(urls, host):
            paste = Paste(
                channel=channel,
                ts=ts,
                thread_ts=str(event.get("thread_ts") or ts),
                sharer=str(event.get("user", "")),
                approval_id=approval_id,
                unfurl_url=url,
                sharer_team=_team(event),
            )
            await answer_paste(services, paste)

    @app.event("message")
    async def message(event: dict[str, Any]) -> None:
        subtype = event.get("subtype")
        if subtype is not None and subtype not in MESSAGE_SUBTYPES:
            return
        if event.get("channel_type") not in ("channel", "group"):
            return
        ts = str(event.get("ts", ""))
        thread_ts = str(event.get("thread_ts") or "")
        if subtype is None and event.get("user") and thread_ts and thread_ts != ts:
            reply = ThreadReply(
                channel=str(event.get("channel", "")),
                thread_ts=thread_ts,
                ts=ts,
                user=str(event["user"]),
                text=str(event.get("text") or ""),
                team=_team(event),
            )
            await services.trainer_replies.relay(reply)  # a contract's thread: to the trainer
        for _, approval_id in approval_links(URL.findall(str(event.get("text") or "")), host):
            paste = Paste(
                channel=str(event.get("channel", "")),
                ts=ts,
                thread_ts=str(event.get("thread_ts") or ts),
                sharer=str(event.get("user") or event.get("bot_id") or ""),
                approval_id=approval_id,
                unfurl_url=None,
                sharer_team=_team(event),
            )
            await answer_paste(services, paste)


async def preview_in_composer(
    services: Services, event: dict[str, Any], links: Iterable[tuple[str, str]]
) -> None:
    """Unfurl approval links in a message still being typed, via its `unfurl_id`.

    Nothing is adopted, posted or DMed: the message may never be sent, and it has no
    channel yet. A tracked approval previews as its live card, any other as a note that
    its card comes once the message is sent (then `link_shared` and `message` arrive
    for the real channel). Like an ephemeral, repeating it changes nothing twice, so it
    is sent directly rather than through the outbox.
    """
    unfurl_id, source = event.get("unfurl_id"), event.get("source")
    if not unfurl_id or not source:
        return
    now, host = services.clock.now(), services.settings.opentrain_host
    unfurls: dict[str, dict[str, Any]] = {}
    for url, approval_id in links:
        tracked = await services.store.get_approval(approval_id)
        blocks = (
            cards.composer_preview(approval_id)
            if tracked is None
            else cards.unfurl_blocks(tracked, now=now, opentrain_host=host)
        )
        unfurls[url] = {"blocks": blocks}
    if not unfurls:
        return
    try:
        await services.slack.chat_unfurl(
            unfurl_id=str(unfurl_id), source=str(source), unfurls=unfurls
        )
    except SlackApiError as exc:
        log.info("composer preview not shown %s", log_kv(error=exc.response.get("error")))


def _team(event: dict[str, Any]) -> str | None:
    """The posting user's own team: Slack names it in shared channels (`user_team`)."""
    team = event.get("user_team")
    return str(team) if team else None


def approval_links(urls: Iterable[str], opentrain_host: str) -> Iterator[tuple[str, str]]:
    """(url, approval id) for each distinct approval linked on the OpenTrain host."""
    seen: set[str] = set()
    for url in urls:
        approval_id = approval_id_from_link(url, opentrain_host)
        if approval_id is None or approval_id in seen:
            continue
        seen.add(approval_id)
        yield url, approval_id
        if len(seen) == MAX_LINKS:
            return


def _subject(paste: Paste) -> str:
    """What the bot's answers to one pasted link are about (their outbox effects' subject)."""
    return f"paste:{paste.channel}:{paste.ts}:{paste.approval_id}"


async def _answer_in_thread(
    services: Services, paste: Paste, message: cards.SlackMessage, *, key: str
) -> None:
    """One reply in the paste's thread, through the outbox (queued once per paste and key)."""
    await services.notifier.queue_message(
        _subject(paste), message, channel=paste.channel, thread_ts=paste.thread_ts, key=key
    )


async def answer_paste(services: Services, paste: Paste) -> None:
    first = await services.store.claim_key(
        f"pasted:{paste.channel}:{paste.ts}:{paste.approval_id}", PASTE_TTL
    )
    if not first and paste.unfurl_url is None:
        return  # another event for this paste is answering it
    if not await _may_adopt(services, paste, answer=first):
        return
    # Whether a card existed before this paste. `outcome.created` cannot tell: the other
    # event of the same paste may adopt the approval first (it unfurls, we answer).
    known_before = first and await services.store.get_approval(paste.approval_id) is not None
    try:
        outcome = await _adopt(services, paste, answer=first)
        if outcome is None:
            return
        now = services.clock.now()
        host = services.settings.opentrain_host
        if paste.unfurl_url is not None:
            blocks = cards.unfurl_blocks(outcome.approval, now=now, opentrain_host=host)
            await services.notifier.queue_unfurl(
                _subject(paste),
                paste.channel,
                paste.ts,
                {paste.unfurl_url: {"blocks": blocks}},
            )
        if first:
            told = receipt(services, outcome, created=not known_before)
            await _answer_in_thread(services, paste, told, key="receipt")
    except SlackApiError as exc:
        log.warning(
            "answer to pasted link failed %s",
            log_kv(
                approval_id=paste.approval_id,
                channel=paste.channel,
                error=exc.response.get("error"),
            ),
        )


async def _may_adopt(services: Services, paste: Paste, *, answer: bool) -> bool:
    """Whether the sharer may have the bot track a pasted approval (requesters and admins).

    A refused person is told privately, once per paste; nothing is read from OpenTrain.
    """
    try:
        await services.roles.require(
            Actor(paste.sharer, paste.sharer_team), "read", "have the bot track approvals"
        )
    except AccessDenied as refused:
        if answer and paste.sharer.startswith(("U", "W")):
            await services.notifier.ephemeral(
                paste.channel, paste.sharer, cards.explanation_message(explain(refused))
            )
        return False
    return True


async def _adopt(services: Services, paste: Paste, *, answer: bool) -> CoSignOutcome | None:
    """Track the pasted approval, read by id from OpenTrain; None (with a short note in the
    thread when `answer`) when OpenTrain will not give it to us."""
    try:
        return await services.cosign.track(
            paste.approval_id,
            requester=Requester(kind="slack", id=paste.sharer),
            channel_id=paste.channel,
        )
    except OpenTrainError as exc:
        log.info(
            "pasted approval unreadable %s",
            log_kv(approval_id=paste.approval_id, code=exc.code, channel=paste.channel),
        )
        if answer:
            note = cards.explanation_message(explain(exc))
            await _answer_in_thread(services, paste, note, key="note")
        return None
