"""Fixtures for the Slack simulator (bot/sandbox/slack).

`slack_sim` is a started `SlackSim` on 127.0.0.1 with the demo workspace;
`make_slack_sim` starts more with other options (rate limits, scopes, …).
Both stop what they started. The sim carries the helpers tests read back with:
`messages(channel_id)`, `replies(channel_id, ts)`, `dms(user_id)`,
`ephemerals(user_id)`, and `state` for anything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack import SlackSim

SIGNING_SECRET = "sandbox-signing-secret"

MakeSlackSim = Callable[..., Awaitable[SlackSim]]

# Block Kit the tests post and open as an app would: a card with a "Fund it" button, and a
# one-input modal.
CARD_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Fund milestone ms_1* — $120.00"}},
    {
        "type": "actions",
        "block_id": "card_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "fund",
                "value": "ms_1",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Fund it"},
            },
            {
                "type": "button",
                "action_id": "review",
                "url": "https://app.opentrain.test/approvals/apr_1",
                "text": {"type": "plain_text", "text": "Review"},
            },
        ],
    },
]


def modal(title: str = "Hire", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "hire",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Hire"},
        "blocks": [
            {
                "type": "input",
                "block_id": "amount",
                "label": {"type": "plain_text", "text": "Amount"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        **extra,
    }


@pytest.fixture
async def make_slack_sim() -> AsyncIterator[MakeSlackSim]:
    started: list[SlackSim] = []

    async def make(**options: Any) -> SlackSim:
        options.setdefault("signing_secret", SIGNING_SECRET)
        sim = SlackSim(**options)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in reversed(started):
        await sim.stop()


@pytest.fixture
async def slack_sim(make_slack_sim: MakeSlackSim) -> SlackSim:
    return await make_slack_sim()


def client_for(sim: SlackSim, token: str | None = None) -> AsyncWebClient:
    """A Web API client of the simulator, as the bot (or with another `token`)."""
    return AsyncWebClient(token=token or sim.bot_token, base_url=sim.api_url)


async def slack_error(call: Awaitable[Any]) -> dict[str, Any]:
    """The `{ok: false, …}` body of a call that must fail."""
    with pytest.raises(SlackApiError) as raised:
        await call
    body: dict[str, Any] = raised.value.response.data
    assert body["ok"] is False
    return body
