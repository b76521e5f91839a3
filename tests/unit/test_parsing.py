"""`/opentrain …` text → typed commands; every bad input → a UsageError saying what to type."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.cards import help_message
from bot.cards.text import esc
from bot.parsing import (
    ApprovalRef,
    Approvers,
    ContractRef,
    Contracts,
    Hire,
    JobRef,
    MilestoneRef,
    MyJobs,
    NoArgs,
    Route,
    Subscribe,
    UsageError,
    approval_id_from_link,
    parse_channel,
    parse_member,
    typed_text,
)
from bot.store.kinds import Topic
from handlers.commands import Verb, entry, help_sections, parse_command

HOST = "app.opentrain.ai"
MAX = Decimal("100000")


def parse(text: str, *, host: str = HOST) -> object:
    """The parsed arguments of a command."""
    return parse_command(text, opentrain_host=host, max_amount=MAX)[1]


def verb_of(text: str) -> Verb:
    return parse_command(text, opentrain_host=HOST, max_amount=MAX)[0].verb


def refused(text: str, *, host: str = HOST) -> UsageError:
    with pytest.raises(UsageError) as raised:
        parse(text, host=host)
    return raised.value


# --- every subcommand ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verb", "expected"),
    [
        ("", Verb.HELP, NoArgs()),
        ("   ", Verb.HELP, NoArgs()),
        ("help", Verb.HELP, NoArgs()),
        ("HELP me please", Verb.HELP, NoArgs()),
        ("pending", Verb.PENDING, NoArgs()),
        ("status", Verb.STATUS, NoArgs()),
        ("hire prop_ada", Verb.HIRE, Hire("prop_ada")),
        ("hire prop_ada 450", Verb.HIRE, Hire("prop_ada", Decimal("450.00"))),
        (
            "hire prop_ada $1,250.50 Batch 1",
            Verb.HIRE,
            Hire("prop_ada", Decimal("1250.50"), "Batch 1"),
        ),
        ("hire prop_ada Batch   1", Verb.HIRE, Hire("prop_ada", None, "Batch 1")),
        ("Hire PROP-7 99.9 x", Verb.HIRE, Hire("PROP-7", Decimal("99.90"), "x")),
        ("fund ms_batch2", Verb.FUND, MilestoneRef("ms_batch2")),
        ("payout ms_batch1", Verb.PAYOUT, MilestoneRef("ms_batch1")),
        ("end ctr_linus", Verb.END, ContractRef("ctr_linus")),
        ("milestone ctr_linus", Verb.MILESTONE, ContractRef("ctr_linus")),
        ("contract ctr_linus", Verb.CONTRACT, ContractRef("ctr_linus")),
        ("contracts", Verb.CONTRACTS, Contracts()),
        ("contracts active", Verb.CONTRACTS, Contracts("active")),
        ("contracts ENDED", Verb.CONTRACTS, Contracts("ended")),
        ("track appr_123", Verb.TRACK, ApprovalRef("appr_123")),
        ("jobs", Verb.JOBS, MyJobs()),
        ("jobs draft", Verb.JOBS, MyJobs("DRAFT")),
        ("Jobs Pending-Approval", Verb.JOBS, MyJobs("PENDING_APPROVAL")),
        ("jobs ARCHIVED", Verb.JOBS, MyJobs("ARCHIVED")),
        ("audit appr_123", Verb.AUDIT, ApprovalRef("appr_123")),
        ("subscribe job_1", Verb.SUBSCRIBE, Subscribe("job_1", frozenset(Topic))),
        (
            "subscribe job_1 Messages work messages",
            Verb.SUBSCRIBE,
            Subscribe("job_1", frozenset({Topic.MESSAGES, Topic.WORK})),
        ),
        ("unsubscribe job_1", Verb.UNSUBSCRIBE, JobRef("job_1")),
        ("subscriptions", Verb.SUBSCRIPTIONS, NoArgs()),
    ],
)
def test_every_subcommand_parses(text: str, verb: Verb, expected: object) -> None:
    assert verb_of(text) is verb
    assert parse(text) == expected


def test_amounts_are_decimal_with_cents() -> None:
    hire = parse("hire prop_ada 0.1")
    assert isinstance(hire, Hire)
    assert hire.amount == Decimal("0.10") and isinstance(hire.amount, Decimal)


# --- Slack's escaping: mentions, channels, links ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"track https://{HOST}/approvals/appr_9",
        f"track <https://{HOST}/approvals/appr_9>",
        f"track <https://{HOST}/approvals/appr_9|https://{HOST}/approvals/appr_9>",
        f"track <https://{HOST}/approvals/appr_9/>",
    ],
)
def test_track_accepts_plain_and_escaped_approval_links(text: str) -> None:
    assert parse(text) == ApprovalRef("appr_9")


def test_track_link_on_the_sandbox_host_with_its_port() -> None:
    host = "127.0.0.1:8700"
    assert parse(f"track <http://{host}/approvals/a1>", host=host) == ApprovalRef("a1")


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/approvals/appr_9",
        f"<https://evil.example/approvals/appr_9|https://{HOST}/approvals/appr_9>",
        f"https://{HOST}.evil.example/approvals/appr_9",
        f"http://{HOST}/approvals/appr_9",  # plain http only for localhost
        f"https://{HOST}/contracts/ctr_1",
        f"https://{HOST}/approvals/appr_9/extra",
        f"https://{HOST}/approvals/bad%20id",
        f"ftp://{HOST}/approvals/appr_9",
    ],
)
def test_track_refuses_links_that_are_not_opentrain_approvals(link: str) -> None:
    error = refused(f"track {link}")
    assert "not an OpenTrain approval link" in error.problem
    assert HOST in error.problem
    assert error.usage == entry(Verb.TRACK).usage


def test_approval_link_parsing_is_exact_about_the_host() -> None:
    assert approval_id_from_link(f"https://{HOST}/approvals/x1", HOST) == "x1"
    assert approval_id_from_link(f"https://{HOST.upper()}/approvals/x1", HOST) == "x1"
    assert approval_id_from_link(f"https://user@{HOST}/approvals/x1", HOST) is None
    assert approval_id_from_link("http://localhost:9/approvals/x1", "localhost:9") == "x1"


@pytest.mark.parametrize(
    ("token", "channel"),
    [("<#C0HIRING|hiring>", "C0HIRING"), ("<#C0HIRING>", "C0HIRING"), ("C0HIRING", "C0HIRING")],
)
def test_channels_escaped_and_plain(token: str, channel: str) -> None:
    assert parse_channel(token) == channel


@pytest.mark.parametrize(
    ("token", "member"),
    [
        ("<@U0BEN|ben>", "U0BEN"),
        ("<@U0BEN>", "U0BEN"),
        ("U0BEN", "U0BEN"),
        ("<@W0ENT>", "W0ENT"),
        ("<!subteam^S0FINANCE|@finance-team>", "S0FINANCE"),
        ("<!subteam^S0FINANCE>", "S0FINANCE"),
        ("S0FINANCE", "S0FINANCE"),
    ],
)
def test_members_escaped_and_plain(token: str, member: str) -> None:
    assert parse_member(token) == member


@pytest.mark.parametrize("token", ["@ben", "<#C0HIRING>", "<!channel>", "ben", "<@u0ben>"])
def test_non_members_are_not_mistaken_for_mentions(token: str) -> None:
    assert parse_member(token) is None


@pytest.mark.parametrize(
    ("escaped", "typed"),
    [
        ("R&amp;D &lt;fast&gt;", "R&D <fast>"),
        ("&amp;lt; stays literal", "&lt; stays literal"),
        ("for <@U0BEN|ben>", "for @ben"),
        ("for <@U0BEN>", "for @U0BEN"),
        ("in <#C0HIRING|hiring>", "in #hiring"),
        ("hey <!channel> and <!here>", "hey @channel and @here"),
        ("cc <!subteam^S0FINANCE|@finance-team>", "cc @finance-team"),
        ("see <https://evil.example|click here>", "see click here"),
        ("see <https://example.com>", "see https://example.com"),
        ("due <!date^1700000000^{date}|Nov 14>", "due Nov 14"),
    ],
)
def test_typed_text_undoes_slacks_escaping(escaped: str, typed: str) -> None:
    assert typed_text(escaped) == typed


def test_hire_name_is_what_the_person_typed() -> None:
    hire = parse("hire prop_ada 450 Batch &lt;1&gt; for <@U0BEN|ben> <!channel>")
    assert hire == Hire("prop_ada", Decimal("450.00"), "Batch <1> for @ben @channel")


def test_approvers_and_routes_take_escaped_mentions() -> None:
    assert parse("approvers set <#C0HIRING|hiring> <@U0ANA|ana> <!subteam^S0FINANCE>") == (
        Approvers("set", "C0HIRING", ("U0ANA", "S0FINANCE"))
    )
    assert parse("approvers add global U0BEN U0BEN") == Approvers("add", "global", ("U0BEN",))
    assert parse("approvers") == Approvers("show")
    assert parse("route job_dashcam <#C0HIRING|hiring>") == Route(
        "set", target="job_dashcam", channel_id="C0HIRING"
    )
    assert parse("route list") == Route("list")
    assert parse("routes") == Route("list")
    assert parse("route remove fund") == Route("remove", target="fund")


def test_approver_tiers_escalation_and_tier_admins() -> None:
    assert parse("approvers set global over 1,000 <!subteam^S0FINANCE|@finance>") == Approvers(
        "set", "global", ("S0FINANCE",), over=Decimal("1000.00")
    )
    assert parse("approvers remove over $5000.50 U0CFO") == Approvers(
        "remove", None, ("U0CFO",), over=Decimal("5000.50")
    )
    assert parse("approvers escalate global over 1000 after 24h") == Approvers(
        "escalate", "global", over=Decimal("1000.00"), after=timedelta(hours=24)
    )
    assert parse("approvers escalate <#C0HIRING|hiring> after 1h30m") == Approvers(
        "escalate", "C0HIRING", after=timedelta(minutes=90)
    )
    assert parse("approvers escalate after OFF") == Approvers("escalate", off=True)
    assert parse("approvers escalate after default") == Approvers("escalate")
    assert parse("approvers admins global over 1000 <@U0CFO|cfo>") == Approvers(
        "admins", "global", ("U0CFO",), over=Decimal("1000.00")
    )
    assert parse("approvers admins global over 1000 none") == Approvers(
        "admins", "global", over=Decimal("1000.00")
    )


# --- bad input → what to type instead ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        ("hrie prop_ada", "“hrie” is not an /opentrain command", "help"),
        ("fund", "`fund` needs a milestone id", "fund"),
        ("fund ms_1 ms_2", "`fund` takes exactly one milestone id", "fund"),
        ("payout", "`payout` needs a milestone id", "payout"),
        ("end", "`end` needs a contract id", "end"),
        ("milestone", "`milestone` needs a contract id", "milestone"),
        ("contract", "`contract` needs a contract id", "contract"),
        ("audit", "`audit` needs an approval id", "audit"),
        ("fund ms/../1", "“ms/../1” is not a valid milestone id", "fund"),
        ("end <@U0BEN|ben>", "“@ben” is not a valid contract id", "end"),
        ("payout -ms", "“-ms” is not a valid milestone id", "payout"),
        (f"contract {'c' * 129}", "is not a valid contract id", "contract"),
        ("hire", "`hire` needs a proposal id", "hire"),
        ("hire prop$ada", "“prop$ada” is not a valid proposal id", "hire"),
        ("hire prop_ada 0", "the amount must be more than $0", "hire"),
        ("hire prop_ada -5", "the amount must be more than $0", "hire"),
        ("hire prop_ada 10.505", "at most two decimals", "hire"),
        ("hire prop_ada 100000.01", "at most $100,000.00", "hire"),
        ("hire prop_ada 99999999999999999999", "at most $100,000.00", "hire"),
        (f"hire prop_ada {'9' * 40}", "at most $100,000.00", "hire"),
        ("hire prop_ada 45.5.5 name", "“45.5.5” is not an amount", "hire"),
        (f"hire prop_ada 10 {'n' * 201}", "201 characters; the limit is 200", "hire"),
        ("track", "`track` needs one approval id or approval link", "track"),
        ("track a b", "`track` needs one approval id or approval link", "track"),
        ("track bad!id", "“bad!id” is not a valid approval id", "track"),
        ("pending now", "`pending` takes no arguments", "pending"),
        ("status please", "`status` takes no arguments", "status"),
        ("contracts open", "`contracts` takes `active`, `ended` or nothing", "contracts"),
        ("contracts active ended", "`contracts` takes `active`, `ended` or nothing", "contracts"),
        ("jobs live", "“live” is not a job status (draft, open, ongoing, completed", "jobs"),
        ("jobs open draft", "`jobs` takes one status at most", "jobs"),
        ("approvers promote U0BEN", "`approvers promote` is not known", "approvers"),
        ("approvers add", "`approvers add` needs at least one @mention", "approvers"),
        ("approvers set #general ben", "“#general” is not a @user or @group", "approvers"),
        ("approvers set global over 1,50 U0CFO", "“1,50” uses a comma for cents", "approvers"),
        ("approvers set over U0CFO", "“U0CFO” is not an amount", "approvers"),
        ("approvers set over", "`over` needs an amount", "approvers"),
        ("approvers set global over 0 U0CFO", "the amount must be more than $0", "approvers"),
        ("approvers escalate global", "needs `after` and a delay", "approvers"),
        ("approvers escalate after soon", "“soon” is not a delay", "approvers"),
        ("approvers escalate after 1m", "5 minutes at the least", "approvers"),
        ("approvers admins over 10", "`approvers admins` needs at least one @mention", "approvers"),
        ("route job_1", "`route` needs a job id or type and a #channel", "route"),
        ("route job_1 general", "“general” is not a #channel", "route"),
        ("route remove", "`route remove` needs the job id or type", "route"),
        ("subscribe", "`subscribe` needs a job id", "subscribe"),
        (
            "subscribe job_1 gossip",
            "“gossip” is not something to hear about (proposals",
            "subscribe",
        ),
        ("subscribe <#C1|x>", "is not a valid job id", "subscribe"),
        ("unsubscribe", "`unsubscribe` needs a job id", "unsubscribe"),
        ("unsubscribe a b", "`unsubscribe` takes exactly one job id", "unsubscribe"),
        ("subscriptions all", "`subscriptions` takes no arguments", "subscriptions"),
    ],
)
def test_bad_input_says_what_is_wrong_and_what_to_type(text: str, problem: str, usage: str) -> None:
    error = refused(text)
    assert problem in error.problem
    assert error.usage == entry(Verb(usage)).usage
    assert error.usage.startswith("/opentrain ")


def test_a_dollar_sign_alone_is_a_name_not_an_amount() -> None:
    # "$" has no digit, so it is the start of the milestone name.
    assert parse("hire prop_ada $ name") == Hire("prop_ada", None, "$ name")


def test_problem_quotes_are_clipped_and_show_typed_text() -> None:
    error = refused("x" * 300)
    assert len(error.problem) < 120
    assert refused("&lt;script&gt;").problem.startswith("“<script>”")


def test_every_usage_line_is_a_command_to_type() -> None:
    for verb in Verb:
        for usage in entry(verb).usage.split(" · "):
            assert usage.startswith(f"/opentrain {verb.value}"), verb


def test_a_usage_error_carries_the_examples_of_its_verb() -> None:
    error = refused("fund")
    assert error.examples == entry(Verb.FUND).examples != ()


def test_help_is_generated_from_the_table_with_every_verb_once() -> None:
    sections = help_sections()
    shown = [syntax.split()[0] for section in sections for syntax, _ in section.lines]
    assert list(dict.fromkeys(shown)) == [verb.value for verb in Verb]
    message = help_message(sections)
    for verb in Verb:
        assert f"`/opentrain {esc(entry(verb).syntax)}` — {entry(verb).purpose}" in str(
            message.as_kwargs()["blocks"]
        )


def test_routes_is_another_word_for_route() -> None:
    assert verb_of("routes") is Verb.ROUTE
