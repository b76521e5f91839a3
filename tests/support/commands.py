"""Helpers for the `/opentrain` end-to-end tests (no tests here).

`Bot` drives a started sandbox the way a person in Slack does — commands, modal
submissions, clicks — and reads back what they would see (private replies,
cards), and what reached OpenTrain (the simulator's `/_sim/requests` log).
Everything goes over HTTP: Slack → bot through the Slack simulator's signed
deliveries, and the OpenTrain simulator's control API for faults and set-up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.cards import APPROVAL_EVENT_TYPE, ActionId, BlockId
from bot.sandbox.runner import SIGNING_SECRET, Sandbox
from bot.sandbox.slack.interactions import View
from bot.sandbox.slack.model import Ephemeral, Message
from bot.sandbox.slack.transport import DeliveryResult
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

USER = "U0ANA"
CHANNEL = "C0HIRING"
PROGRESS = "⏳"
REQUEST_ID = re.compile(r"OpenTrain request id: `[0-9a-f]{8}-[0-9a-f-]{27}`")
# Background work that is not a reaction to a command: the tracker's feed poll.
BACKGROUND_PATHS = {"/updates"}


async def start_bot(make_sandbox: SandboxFactory, **options: Any) -> Bot:
    return Bot(await make_sandbox(**options))


@dataclass
class Bot:
    sandbox: Sandbox

    # --- driving it ---------------------------------------------------------------

    async def command(
        self, text: str, *, user: str = USER, channel: str = CHANNEL
    ) -> DeliveryResult:
        return await self.sandbox.slack.send_command(
            command="/opentrain", text=text, user_id=user, channel_id=channel
        )

    async def modal(self, text: str, *, user: str = USER, channel: str = CHANNEL) -> View:
        """Run a command that opens a modal; the modal."""
        seen = {view.id for view in self.sandbox.slack.state.open_views(user)}
        await self.command(text, user=user, channel=channel)
        views = await wait_for(
            lambda: [v for v in self.sandbox.slack.state.open_views(user) if v.id not in seen],
            message=f"a modal from /opentrain {text}",
        )
        return views[0]

    async def submit(
        self, view: View, values: dict[str, dict[str, Any]], *, user: str = USER
    ) -> DeliveryResult:
        return await self.sandbox.slack.submit_view(user_id=user, view_id=view.id, values=values)

    async def click(
        self,
        where: Ephemeral | Message,
        action_id: ActionId,
        *,
        value: str | None = None,
        user: str = USER,
    ) -> DeliveryResult:
        return await self.sandbox.slack.click(
            user_id=user,
            action_id=action_id.value,
            channel_id=where.channel,
            message_ts=where.ts,
            value=value,
        )

    # --- what a person sees ---------------------------------------------------------

    def private(self, user: str = USER) -> list[Ephemeral]:
        return self.sandbox.slack.ephemerals(user)

    async def answer(self, *, after: int = 0, user: str = USER, timeout: float = 10.0) -> Ephemeral:
        """The first private message past index `after` that is not a progress line."""

        def found() -> Ephemeral | None:
            for ephemeral in self.private(user)[after:]:
                if not ephemeral.text.startswith(PROGRESS):
                    return ephemeral
            return None

        return await wait_for(found, timeout=timeout, message="a private answer")

    def cards(self, channel: str = CHANNEL) -> list[Message]:
        """Approval cards (top-level messages carrying the approval metadata)."""
        return [
            message
            for message in self.sandbox.slack.messages(channel)
            if (message.metadata or {}).get("event_type") == APPROVAL_EVENT_TYPE
        ]

    def card(self, approval_id: str, channel: str = CHANNEL) -> Message | None:
        for message in self.cards(channel):
            if (message.metadata or {}).get("event_payload", {}).get("approvalId") == approval_id:
                return message
        return None

    async def card_for(self, approval_id: str, *, timeout: float = 10.0) -> Message:
        return await wait_for(
            lambda: self.card(approval_id), timeout=timeout, message=f"card of {approval_id}"
        )

    # --- what reached OpenTrain -------------------------------------------------------

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the OpenTrain simulator's control API (`/_sim/…`)."""
        url = self.sandbox.opentrain.origin + path
        async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as answer:
            text = await answer.text()
            assert answer.status < 300, f"{method} {path} → {answer.status}: {text}"
            return json.loads(text)

    async def sent(self) -> list[dict[str, Any]]:
        """Requests the bot made to OpenTrain, background feed polls left out."""
        requests = (await self.control("GET", "/_sim/requests"))["requests"]
        return [r for r in requests if r["path"] not in BACKGROUND_PATHS]

    async def writes(self) -> list[dict[str, Any]]:
        return [r for r in await self.sent() if r["method"] != "GET"]

    async def fault(self, **spec: Any) -> None:
        await self.control("POST", "/_sim/faults", spec)

    def approvals(self, *, proposal_id: str | None = None) -> list[Any]:
        approvals = list(self.sandbox.opentrain.state.approvals.values())
        if proposal_id is not None:
            approvals = [a for a in approvals if a.proposal_id == proposal_id]
        return approvals


# --- signed requests built by hand ------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature: HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def post_signed(
    bot: Bot,
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """POST a form body to the bot's /slack/events, signed with `secret` at `timestamp`.

    `headers` replaces the signed headers entirely. Returns the status and body.
    """
    sent_at = str(int(time.time()) if timestamp is None else timestamp)
    signed = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": sent_at,
        "X-Slack-Signature": signature(secret, sent_at, body),
    }
    url = bot.sandbox.slack.bot_url
    assert url is not None
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=headers or signed) as answer,
    ):
        return answer.status, await answer.text()


# --- reading messages ------------------------------------------------------------------


def rendered(message: Ephemeral | Message | DeliveryResult) -> str:
    """Everything a message shows, as JSON text (fallback text and blocks)."""
    if isinstance(message, DeliveryResult):
        return json.dumps(message.body, ensure_ascii=False)
    return json.dumps({"text": message.text, "blocks": message.blocks}, ensure_ascii=False)


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn string in `blocks` — the only text Slack parses for mentions and links."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found


def buttons(message: Ephemeral | Message) -> dict[str, dict[str, Any]]:
    """Buttons by action_id."""
    found: dict[str, dict[str, Any]] = {}
    for block in message.blocks:
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        accessory = block.get("accessory")
        for element in [*elements, *([accessory] if isinstance(accessory, dict) else [])]:
            if element.get("type") == "button":
                found.setdefault(str(element["action_id"]), element)
    return found


def buttons_of(message: Ephemeral | Message, action_id: ActionId) -> list[dict[str, Any]]:
    """Every button with `action_id` in `message`'s actions blocks (lists repeat an id)."""
    return [
        element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("action_id") == action_id.value
    ]


def hire_values(
    *,
    name: str = "Batch 1",
    description: str = "10k boxes",
    amount: str = "450",
    due: str | None = None,
) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {
        BlockId.HIRE_NAME.value: {ActionId.HIRE_NAME.value: name},
        BlockId.HIRE_DESCRIPTION.value: {ActionId.HIRE_DESCRIPTION.value: description},
        BlockId.HIRE_AMOUNT.value: {ActionId.HIRE_AMOUNT.value: amount},
    }
    if due is not None:
        values[BlockId.HIRE_DUE_DATE.value] = {ActionId.HIRE_DUE_DATE.value: due}
    return values


def milestone_values(
    *, name: str = "Batch 3", description: str = "Night footage, 5k boxes", amount: str = "300"
) -> dict[str, dict[str, Any]]:
    return {
        BlockId.MILESTONE_NAME.value: {ActionId.MILESTONE_NAME.value: name},
        BlockId.MILESTONE_DESCRIPTION.value: {ActionId.MILESTONE_DESCRIPTION.value: description},
        BlockId.MILESTONE_AMOUNT.value: {ActionId.MILESTONE_AMOUNT.value: amount},
    }
