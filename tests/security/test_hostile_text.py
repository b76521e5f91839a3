"""Hostile text in every field a person, an agent or a freelancer controls, through every door:
whatever Slack ends up showing pings nobody and links nowhere.

The text tries everything Slack would act on — `<!channel>`, `<!here>`, `<!everyone>`,
mentions of a user, a user group and a channel, `<https://evil|click>`, `mailto:`, a bare
URL, mrkdwn formatting, entities, and Block Kit injection (JSON fragments that would add
a section and a link button if a card were built by pasting strings together). It goes
in through slash commands and their modals, the agent API, a pasted message, and
OpenTrain itself (a freelancer's name, a job or contract title, a milestone name); it
comes out on cards, thread replies, private answers, error echoes, lists, the Home tab,
unfurls and reminder DMs. Then everything the bot made Slack show is scanned.

Proven elsewhere, not repeated here: tests/unit/test_cards_safety.py renders every card
and reply builder with hostile and maximal text (escaping, direction overrides, Block Kit
limits); tests/e2e/test_commands_input.py sends hostile names through the hire and
milestone modals; tests/e2e/test_agent_api.py keeps a phishing note's link off a card.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import pytest

from bot.cards import ActionId
from bot.sandbox.opentrain.vocabulary import ProposalStatus
from bot.sandbox.runner import Sandbox
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import CHANNEL, USER, Bot, hire_values, milestone_values
from tests.support.slack_scan import shown, tokens, urls
from tests.support.wait import wait_for

EVIL_HOST = "evil.example"
PINGS = "<!channel> <!here> <!everyone> <@U0EVIL> <!subteam^S0EVIL|@evil> <#C0EVIL|evil>"
LINKS = (
    f"<https://{EVIL_HOST}/approve|Confirm here> <http://{EVIL_HOST}> "
    f"<mailto:boss@{EVIL_HOST}|mail> https://{EVIL_HOST}/bare"
)
MARKUP = "*bold* _it_ ~gone~ `tick` ```fence``` &amp; &lt;!channel&gt; > quote"
INJECTION = (
    '"}]},{"type":"section","text":{"type":"mrkdwn","text":"<!channel>"}},'
    '{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text",'
    f'"text":"Confirm"}},"url":"https://{EVIL_HOST}"}}]}}]'
)
NAME = f"<!channel> <@U0EVIL> <#C0EVIL> <https://{EVIL_HOST}|click> *b* _i_ {INJECTION[:80]}"
DESCRIPTION = f"{PINGS}\n{LINKS}\n{MARKUP}\n{INJECTION}"
NOTE = f"{PINGS} {LINKS} {INJECTION}"[:500]
AGENT_TOKEN = "agent-token-planner-0123456789"
APPROVER = "U0BEN"
BROADCASTS = {"!channel", "!here", "!everyone"}


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    sandbox = await make_sandbox(agent_tokens=f"planner:{AGENT_TOKEN}", slack_rate_limit_scale=100)
    return Bot(sandbox)


def make_opentrain_hostile(sandbox: Sandbox) -> str:
    """A freelancer, a job, a contract and milestones whose names carry the attack; returns a
    fresh proposal of that freelancer."""
    state = sandbox.opentrain.state
    state.proposals["prop_ada"].freelancer.first_name = "<!channel> Ada"
    state.jobs["job_dashcam"].title = NAME
    contract = state.contracts["ctr_linus"]
    contract.title = NAME
    contract.freelancer.first_name = "<@U0EVIL>"
    state.milestones["ms_batch2"].name = INJECTION
    state.milestones["ms_batch1"].name = NAME
    state.milestones["ms_batch1"].description = DESCRIPTION
    proposal = state.add_demo_proposal(
        "<!here>",
        f"<https://{EVIL_HOST}|x>",
        status=ProposalStatus.UNREVIEWED,
        bid_amount_usd=Decimal(100),
    )
    return proposal.id


async def as_agent(sandbox: Sandbox, action: str, body: dict[str, object]) -> str:
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15) as http:
        answer = await http.post(
            f"/agent/v1/{action}", json=body, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
        )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["approval"]["id"])


async def made_elsewhere(sandbox: Sandbox, path: str, body: object = None) -> str:
    """An approval the agent (or the web app) requested from OpenTrain directly."""
    token = sandbox.opentrain.state.seeded["fullToken"]
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {token}"}
    ) as opentrain:
        response = await opentrain.post(path, json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["approval"]["id"])


async def answered(bot: Bot, text: str) -> None:
    """Run `/opentrain <text>` and wait for its private answer."""
    seen = len(bot.sandbox.slack.state.response_posts)
    result = await bot.command(text)
    assert result.ok, result.to_dict()
    if "⏳" in json.dumps(result.body, ensure_ascii=False):
        await wait_for(
            lambda: len(bot.sandbox.slack.state.response_posts) > seen,
            message=f"the answer to /opentrain {text}",
        )


async def test_hostile_text_through_every_door_pings_nobody_and_links_nowhere(bot: Bot) -> None:
    sandbox, slack = bot.sandbox, bot.sandbox.slack
    hostile_proposal = make_opentrain_hostile(sandbox)
    await answered(bot, f"approvers set <#{CHANNEL}|hiring> <@{APPROVER}|ben>")

    # People in Slack: the hire modal (pre-filled from the command), the milestone modal.
    view = await bot.modal(f"hire prop_ada 450 {NAME}")
    await bot.submit(view, hire_values(name=NAME, description=DESCRIPTION))
    milestone = await bot.modal("milestone ctr_linus")
    await bot.submit(milestone, milestone_values(name=NAME, description=DESCRIPTION))
    created = await wait_for(
        lambda: next((e for e in bot.private() if "Milestone created" in e.text), None),
        message="the new milestone",
    )
    await bot.click(created, ActionId.FUND_MILESTONE)

    # Agents: every endpoint, with the attack in every free-text field.
    hired = await as_agent(
        sandbox,
        "hire",
        {
            "proposalId": hostile_proposal,
            "milestone": {"name": NAME, "description": DESCRIPTION, "amount": 100},
            "note": NOTE,
        },
    )
    funded = await as_agent(sandbox, "fund", {"milestoneId": "ms_batch2", "note": NOTE})
    paid = await as_agent(sandbox, "payout", {"milestoneId": "ms_batch1", "note": NOTE})
    await as_agent(sandbox, "end", {"contractId": "ctr_linus", "note": NOTE})
    handed = await made_elsewhere(sandbox, "/milestones/ms_lidar1/fund")
    await as_agent(sandbox, "approvals", {"approvalId": handed, "note": NOTE})

    # A person pastes a link wrapped in the attack.
    terms = {"milestone": {"name": NAME, "description": DESCRIPTION, "amount": 100}}
    pasted = await made_elsewhere(sandbox, "/proposals/prop_grace/hire", terms)
    link = f"{sandbox.opentrain.origin}/approvals/{pasted}"
    await slack.driver.post_user_message(
        user_id=USER, channel_id=CHANNEL, text=f"{PINGS} {LINKS} {link} {INJECTION}"
    )
    await wait_for(lambda: bot.card(pasted), message="the pasted approval's card")

    # Typed text echoed back in errors, and every list that shows the names.
    for text in (
        PINGS,
        f"fund {PINGS}",
        f"track <https://{EVIL_HOST}/approvals/x|click>",
        f"hire prop_ada 450 {'<!channel>' * 30}",
        "pending",
        "contracts",
        "contract ctr_linus",
        f"audit {hired}",
    ):
        await answered(bot, text)

    # Outcomes, a reminder, the Home tab.
    await wait_for(lambda: len(bot.cards()) >= 7, message="every card")
    sandbox.opentrain.state.confirm(hired)
    sandbox.opentrain.state.decline(paid)
    for approval_id in (hired, paid):
        await wait_for(
            lambda a=approval_id: "Review & confirm" not in json.dumps(bot.card(a).blocks),
            message=f"the outcome of {approval_id}",
        )
    card = bot.card(funded)
    assert card is not None
    await bot.click(card, ActionId.REMIND_APPROVERS)
    await wait_for(lambda: slack.dms(APPROVER), message="the reminder DM")
    await slack.driver.open_home(USER)
    await wait_for(lambda: slack.state.home_view(USER), message="the Home tab")
    await sandbox.services.notifier.drain()

    assert_nothing_pings_or_links(sandbox)


def assert_nothing_pings_or_links(sandbox: Sandbox) -> None:
    state = sandbox.slack.state
    everything = shown(state)
    allowed_hosts = {
        urlsplit(sandbox.opentrain.origin).netloc,
        urlsplit(state.permalink_base).netloc,
    }
    for item in everything:
        if item.kind == "plain_text":
            continue  # never parsed: the attack may be shown here as typed
        for token in tokens(item.text):
            target = token.split("|", 1)[0]
            assert target not in BROADCASTS, item
            assert not target.startswith("mailto:"), item
            if target.startswith("@"):
                assert target[1:] in state.users, item
            elif target.startswith("!subteam^"):
                assert target.removeprefix("!subteam^") in state.usergroups, item
            elif target.startswith("#"):
                assert target[1:] in state.channels, item
            elif target.startswith(("http://", "https://")):
                assert urlsplit(target).netloc in allowed_hosts, item
            else:
                assert target.startswith("!date^"), item
        if EVIL_HOST in item.text and item.kind == "mrkdwn":
            assert item.verbatim, item  # Slack would auto-link the bare URL otherwise
    for where, url in urls(state):
        assert urlsplit(url).netloc in allowed_hosts, (where, url)
    # Not vacuous: the attack was shown — literally as plain text, escaped in mrkdwn — and
    # the injected JSON stayed text.
    texts = [item.text for item in everything]
    assert any("<!channel>" in t for t in texts)
    assert any("&lt;!channel&gt;" in t for t in texts)
    assert any('"type":"actions"' in t for t in texts)


async def test_a_malformed_link_beside_a_real_one_neither_breaks_nor_hides_it(bot: Bot) -> None:
    sandbox = bot.sandbox
    approval_id = await made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    real = f"{sandbox.opentrain.origin}/approvals/{approval_id}"
    # `http://[…` has no closing bracket: URL parsers raise on it rather than return nothing.
    await sandbox.slack.driver.post_user_message(
        user_id=USER, channel_id=CHANNEL, text=f'http://[::1 https://{EVIL_HOST}"}}] {real}'
    )
    await wait_for(lambda: bot.card(approval_id), message="the real link's card")
    result = await bot.command("track http://[::1/approvals/apr_1")
    assert result.ok and "not an OpenTrain approval link" in json.dumps(result.body)
