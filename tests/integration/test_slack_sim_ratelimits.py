"""Slack's rate limits in the simulator: tiers, chat.postMessage pacing, recovery."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.ratelimit import POST_MESSAGE_BURST, RateLimiter, Tier
from tests.support.slack_sim import MakeSlackSim
from tests.support.wait import wait_for

# Windows of 60 s / 60 = 1 s: long enough to exhaust a tier reliably, short to wait out.
SCALE = 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_for(sim: SlackSim) -> AsyncWebClient:
    # No retry handlers: these tests want to see the 429s themselves.
    return AsyncWebClient(token=sim.bot_token, base_url=sim.api_url, retry_handlers=[])


@pytest.fixture
async def limited_sim(make_slack_sim: MakeSlackSim) -> SlackSim:
    return await make_slack_sim(rate_limits=True, rate_limit_scale=SCALE)


async def exhaust(client: AsyncWebClient, calls: int) -> None:
    for _ in range(calls):
        await client.usergroups_list()


async def test_limits_are_off_unless_switched_on(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    await exhaust(client, Tier.TIER_2.per_minute * 2)
    for _ in range(POST_MESSAGE_BURST * 3):
        await client.chat_postMessage(channel="C0GENERAL", text="x")
    assert slack_sim.state.rate_limited == 0


async def test_a_tier_2_method_allows_twenty_calls_a_minute(limited_sim: SlackSim) -> None:
    client = client_for(limited_sim)
    await exhaust(client, Tier.TIER_2.per_minute)
    with pytest.raises(SlackApiError) as limited:
        await client.usergroups_list()
    response = limited.value.response
    assert response.status_code == 429
    assert response.data == {"ok": False, "error": "ratelimited"}
    assert int(response.headers["retry-after"]) >= 1
    # Limits are per method: a Tier 4 method is unaffected.
    await client.users_info(user="U0ANA")
    async with aiohttp.ClientSession() as http:
        state = await (await http.get(f"{limited_sim.origin}/_sim/state")).json()
    assert state["stats"]["rate_limited"] == 1


async def test_post_message_is_paced_per_channel(
    make_slack_sim: MakeSlackSim,
) -> None:
    # At scale 10 a channel earns a post back every 100 ms, far slower than this loop.
    sim = await make_slack_sim(rate_limits=True, rate_limit_scale=10.0)
    client = client_for(sim)
    for n in range(POST_MESSAGE_BURST):
        await client.chat_postMessage(channel="C0GENERAL", text=f"burst {n}")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C0GENERAL", text="one too many")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["retry-after"] == "1"
    await client.chat_postMessage(channel="C0HIRING", text="another channel is fine")
    assert len(sim.messages("C0GENERAL")) == POST_MESSAGE_BURST

    async def posted_again() -> bool:
        try:
            await client.chat_postMessage(channel="C0GENERAL", text="later")
        except SlackApiError:
            return False
        return True

    accepted: bool = await wait_for(
        posted_again, timeout=5, interval=0.05, message="the channel to accept posts"
    )
    assert accepted
    assert sim.messages("C0GENERAL")[-1].text == "later"


async def test_slack_sdks_retry_handler_waits_out_a_429(limited_sim: SlackSim) -> None:
    await exhaust(client_for(limited_sim), Tier.TIER_2.per_minute)
    patient = AsyncWebClient(
        token=limited_sim.bot_token,
        base_url=limited_sim.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    response = await patient.usergroups_list()
    assert response["ok"] is True
    assert limited_sim.state.rate_limited >= 1


async def test_limits_can_be_switched_on_at_runtime(slack_sim: SlackSim) -> None:
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{slack_sim.origin}/_sim/config",
            json={"rateLimits": True, "rateLimitScale": SCALE},
        )
        assert (await answer.json())["config"]["rateLimits"] is True
    client = client_for(slack_sim)
    await exhaust(client, Tier.TIER_2.per_minute)
    with pytest.raises(SlackApiError):
        await client.usergroups_list()


def test_tier_windows_slide_and_scale() -> None:
    clock = FakeClock()
    limiter = RateLimiter(scale=2.0, clock=clock)  # 30 s windows
    for _ in range(Tier.TIER_3.per_minute):
        assert limiter.admit("chat.update", Tier.TIER_3) is None
        clock.now += 0.1
    clock.now += 0.05
    # The oldest call leaves the 30 s window in 24.95 s; Retry-After rounds up.
    assert limiter.admit("chat.update", Tier.TIER_3) == 25
    clock.now += 24.96
    assert limiter.admit("chat.update", Tier.TIER_3) is None
    assert limiter.admit("chat.update", Tier.TIER_3) is not None


def test_post_message_bucket_refills_at_one_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(POST_MESSAGE_BURST):
        assert limiter.admit("chat.postMessage", Tier.POST_MESSAGE, "C1") is None
    assert limiter.admit("chat.postMessage", Tier.POST_MESSAGE, "C1") == 1
    clock.now += 0.5
    assert limiter.admit("chat.postMessage", Tier.POST_MESSAGE, "C1") == 1
    clock.now += 0.5
    assert limiter.admit("chat.postMessage", Tier.POST_MESSAGE, "C1") is None
    assert limiter.admit("chat.postMessage", Tier.POST_MESSAGE, "C2") is None
