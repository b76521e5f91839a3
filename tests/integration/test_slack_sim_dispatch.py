"""Inputs that reach the app before submission (`dispatch_action`), as Slack sends them: a
`block_actions` from the view with what every input holds, and `views.update` on the hash it
carried — once; a stale hash gets `hash_conflict`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.errors import SimUsageError

AMOUNT_TYPED = {"type": "plain_text_input", "action_id": "typed", "max_length": 12}


def hire_modal(cost: str = "Type an amount") -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "hire",
        "title": {"type": "plain_text", "text": "Hire"},
        "submit": {"type": "plain_text", "text": "Hire"},
        "blocks": [
            {
                "type": "input",
                "block_id": "name",
                "label": {"type": "plain_text", "text": "Name"},
                "element": {"type": "plain_text_input", "action_id": "typed", "min_length": 3},
            },
            {
                "type": "input",
                "block_id": "amount",
                "dispatch_action": True,
                "label": {"type": "plain_text", "text": "Amount"},
                "element": {
                    **AMOUNT_TYPED,
                    "dispatch_action_config": {"trigger_actions_on": ["on_character_entered"]},
                },
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": cost}]},
        ],
    }


@pytest.fixture
async def payloads(slack_sim: SlackSim) -> AsyncIterator[list[dict[str, Any]]]:
    """The interaction payloads the app receives (it acknowledges each)."""
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        form = parse_qs((await request.read()).decode())
        received.append(json.loads(form["payload"][0]))
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    slack_sim.bot_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    yield received
    await runner.cleanup()


async def open_hire_modal(slack_sim: SlackSim) -> tuple[AsyncWebClient, str]:
    client = AsyncWebClient(token=slack_sim.bot_token, base_url=slack_sim.api_url)
    trigger = slack_sim.state.issue_trigger("U0ANA").id
    opened = await client.views_open(trigger_id=trigger, view=hire_modal())
    return client, str(opened["view"]["id"])


async def test_typing_in_a_dispatching_input_sends_the_view_and_what_it_holds(
    slack_sim: SlackSim, payloads: list[dict[str, Any]]
) -> None:
    _, view_id = await open_hire_modal(slack_sim)
    result = await slack_sim.click(
        user_id="U0ANA",
        view_id=view_id,
        block_id="amount",
        action_id="typed",
        value="600",
        # Mid-typing: "Al" is under the name's min_length, which counts only on submission.
        values={"name": {"typed": "Al"}, "amount": {"typed": "600"}},
    )
    assert result.ok
    [payload] = payloads
    assert payload["type"] == "block_actions"
    assert payload["container"] == {"type": "view", "view_id": view_id}
    view = payload["view"]
    assert (view["id"], view["hash"]) == (view_id, slack_sim.state.views[view_id].hash)
    assert view["state"]["values"] == {
        "name": {"typed": {"type": "plain_text_input", "value": "Al"}},
        "amount": {"typed": {"type": "plain_text_input", "value": "600"}},
    }
    [action] = payload["actions"]
    assert action == {
        "action_id": "typed",
        "block_id": "amount",
        "type": "plain_text_input",
        "action_ts": action["action_ts"],
        "value": "600",
    }
    # Deleting everything typed dispatches too.
    await slack_sim.click(
        user_id="U0ANA", view_id=view_id, block_id="amount", action_id="typed", value=""
    )
    assert payloads[-1]["actions"][0]["value"] == ""


async def test_only_a_dispatching_input_reaches_the_app_before_submission(
    slack_sim: SlackSim, payloads: list[dict[str, Any]]
) -> None:
    _, view_id = await open_hire_modal(slack_sim)
    with pytest.raises(SimUsageError, match="no element"):
        await slack_sim.click(
            user_id="U0ANA", view_id=view_id, block_id="name", action_id="typed", value="Al"
        )
    with pytest.raises(SimUsageError, match="at most 12"):
        await slack_sim.click(
            user_id="U0ANA",
            view_id=view_id,
            block_id="amount",
            action_id="typed",
            value="1",
            values={"amount": {"typed": "1" * 13}},  # no one can type past max_length
        )
    with pytest.raises(SimUsageError, match="no view"):
        await slack_sim.click(
            user_id="U0ANA",
            channel_id="C0GENERAL",
            message_ts="1.000001",
            action_id="typed",
            values={"amount": {"typed": "1"}},
        )
    assert payloads == []


async def test_the_app_updates_on_the_hash_it_was_sent_and_typed_inputs_stay(
    slack_sim: SlackSim, payloads: list[dict[str, Any]]
) -> None:
    client, view_id = await open_hire_modal(slack_sim)
    values = {"name": {"typed": "Ada"}, "amount": {"typed": "600"}}
    for typed in ("60", "600"):  # two keystrokes, both sent before the app answers either
        await slack_sim.click(
            user_id="U0ANA",
            view_id=view_id,
            block_id="amount",
            action_id="typed",
            value=typed,
            values=values,
        )
    first, second = payloads
    assert first["view"]["hash"] == second["view"]["hash"]
    updated = await client.views_update(
        view_id=view_id, hash=second["view"]["hash"], view=hire_modal("= $669.95")
    )
    assert updated["view"]["hash"] != second["view"]["hash"]
    # What was typed stays in the inputs the update kept (same block_id and action_id).
    assert updated["view"]["state"]["values"] == {
        "name": {"typed": {"type": "plain_text_input", "value": "Ada"}},
        "amount": {"typed": {"type": "plain_text_input", "value": "600"}},
    }
    with pytest.raises(SlackApiError) as stale:
        await client.views_update(view_id=view_id, hash=first["view"]["hash"], view=hire_modal())
    assert stale.value.response["error"] == "hash_conflict"
    assert slack_sim.state.views[view_id].content["blocks"][2]["elements"][0]["text"] == "= $669.95"

    renamed = hire_modal()
    renamed["blocks"][0]["element"]["action_id"] = "name-v2"
    after = await client.views_update(view_id=view_id, view=renamed)
    assert set(after["view"]["state"]["values"]) == {"amount"}  # a changed input starts afresh
