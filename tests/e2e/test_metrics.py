"""`GET /metrics` over real HTTP, after a real flow against both simulators: an agent asks for
a hire and a funding, a human confirms the hire in OpenTrain, the card is updated in Slack.

The scrape is parsed with prometheus_client's own parser; the counters, the histogram and the
store's gauges must have moved, and no label (nor any other text of the answer) may carry a
Slack id, an approval id, a URL or a token: anyone who reaches the port may scrape.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.opentrain.webhooks import sign
from bot.sandbox.opentrain.seed import FULL_TOKEN
from bot.sandbox.runner import Sandbox
from tests.e2e.test_agent_api import (
    AGENT_TOKENS,
    AUDITOR_TOKEN,
    HIRING,
    PLANNER_TOKEN,
    Agent,
    card_in,
)
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import rendered
from tests.support.wait import wait_for

SLACK_ID = re.compile(r"^[UCWGS][A-Z0-9]{6,}$")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(sandbox: Sandbox) -> tuple[str, Samples]:
    """The answer's text, and every `cosign_*` sample by (name, labels)."""
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=10) as http:
        answer = await http.get("/metrics")  # no signature, no token
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        if family.name.startswith("cosign_")
        for sample in family.samples
    }
    return answer.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def post_webhook(sandbox: Sandbox, signature: str) -> int:
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=10) as http:
        answer = await http.post(
            "/opentrain/webhook",
            content=b'{"type":"approval.confirmed"}',
            headers={"X-OpenTrain-Signature": signature, "X-OpenTrain-Delivery": "dlv_forged"},
        )
    return answer.status_code


async def test_metrics_move_with_a_co_sign_and_its_outcome_and_name_nobody(
    make_sandbox: SandboxFactory, store_settings: dict[str, Any]
) -> None:
    sandbox = await make_sandbox(webhooks=True, agent_tokens=AGENT_TOKENS, **store_settings)
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15) as http:
        agent = Agent(http)
        hire = await agent.post(
            "hire",
            {
                "proposalId": "prop_ada",
                "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450},
            },
        )
        assert hire.status_code == 202, hire.text
        fund = await agent.post("fund", {"milestoneId": "ms_batch2"})
        assert fund.status_code == 202, fund.text
        stranger = await Agent(http, token=None).get_approval(hire.json()["approval"]["id"])
        assert stranger.status_code == 401
    hired, funded = hire.json()["approval"]["id"], fund.json()["approval"]["id"]
    assert card_in(sandbox, HIRING, hired) is not None

    sandbox.opentrain.state.confirm(hired)

    def card_updated() -> bool:
        card = card_in(sandbox, HIRING, hired)
        return card is not None and "Confirmed in OpenTrain" in rendered(card)

    await wait_for(card_updated, message="the confirmed card")
    now = int(sandbox.services.clock.now().timestamp())
    assert await post_webhook(sandbox, f"t={now},v1={'0' * 64}") == 400
    assert await post_webhook(sandbox, sign("not-the-secret", b"{}", now - 3600)) == 400

    async def settled() -> tuple[str, Samples] | None:
        text, samples = await scrape(sandbox)
        done = (
            value(samples, "cosign_outcome_latency_seconds_count") == 1
            and value(samples, "cosign_webhook_deliveries_total", result="accepted") >= 1
            # The store is counted at most every few seconds: wait for a count after the outcome.
            and value(samples, "cosign_pending_approvals", type="proposal_hire") == 0
        )
        return (text, samples) if done else None

    text, samples = await wait_for(settled, timeout=20, interval=0.2, message="the metrics")

    # Read from the store when scraped: the funding still waits for a human.
    assert value(samples, "cosign_pending_approvals", type="milestone_fund") == 1
    assert ("cosign_outbox_depth", frozenset({("kind", "update_card")})) in samples
    # The card was posted and updated through the gateway.
    assert (
        value(samples, "cosign_slack_api_calls_total", method="chat.postMessage", result="ok") >= 2
    )
    assert value(samples, "cosign_slack_api_calls_total", method="chat.update", result="ok") >= 1
    # Every OpenTrain attempt, by endpoint group.
    for endpoint in ("proposals", "milestones", "updates", "approvals"):
        assert value(samples, "cosign_opentrain_api_calls_total", endpoint=endpoint, status="2xx")
    # The outcome reached the card: one latency, within the histogram's buckets.
    assert value(samples, "cosign_outcome_latency_seconds_bucket", le="+Inf") == 1
    assert 0 <= value(samples, "cosign_outcome_latency_seconds_sum") < 60
    assert value(samples, "cosign_feed_leader") == 1
    assert 0 <= value(samples, "cosign_feed_lag_seconds") < 60
    assert value(samples, "cosign_webhook_deliveries_total", result="bad_signature") == 1
    assert value(samples, "cosign_webhook_deliveries_total", result="stale") == 1
    assert value(samples, "cosign_agent_requests_total", agent="planner", result="accepted") == 2
    assert (
        value(samples, "cosign_agent_requests_total", agent="unknown", result="unauthorized") == 1
    )

    # Nobody is named: no Slack id, approval id, URL or token, in a label or anywhere else.
    settings = sandbox.services.settings
    secrets = [PLANNER_TOKEN, AUDITOR_TOKEN, FULL_TOKEN]
    for secret in (settings.slack_bot_token, settings.ot_webhook_secret):
        assert secret is not None
        secrets.append(secret.get_secret_value())
    for label in {label for _, labels in samples for _, label in labels}:
        assert not SLACK_ID.match(label), label
        assert not label.startswith(("apr_", "http")), label
    for needle in (hired, funded, HIRING, "U0ANA", "://", "prop_ada", "ms_batch2", *secrets):
        assert needle not in text, needle
