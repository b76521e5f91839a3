"""`/opentrain …`: the command table, and the listener that runs it.

Every verb is one `Entry` in `entry()`: its syntax and help line, the parser of its
arguments (`bot/parsing.py`), the role it needs, the progress note shown while
OpenTrain is asked, examples, and the handler. `entry()` matches every `Verb`
(`assert_never`), so a verb without an entry fails type-checking; the help text
and the usage errors are generated from the same entries.

Slack allows three seconds for the acknowledgement and OpenTrain may take longer,
so the acknowledgement answers only what needs no work (a usage error, `help`); the
work runs after it and answers through the command's `response_url`. When it takes
longer than a second, the entry's progress note is shown first and the answer
replaces it — through the same `response_url`, in order, so the answer can never
land above its own note.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar, assert_never

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import cards, parsing
from bot.cards.notices import HelpSection
from bot.roles import Need
from bot.services import Services
from handlers import admin_commands as admin
from handlers import lookup_commands as lookups
from handlers import money_commands as money
from handlers.guard import Listeners
from handlers.replies import Asked, Replier, error_message

COMMAND = "/opentrain"
A = TypeVar("A")


class Verb(StrEnum):
    HIRE = "hire"
    FUND = "fund"
    PAYOUT = "payout"
    END = "end"
    MILESTONE = "milestone"
    TRACK = "track"
    PENDING = "pending"
    CONTRACTS = "contracts"
    CONTRACT = "contract"
    JOBS = "jobs"
    PROPOSALS = "proposals"
    STATUS = "status"
    AUDIT = "audit"
    APPROVERS = "approvers"
    ROUTE = "route"
    POLICY = "policy"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SUBSCRIPTIONS = "subscriptions"
    HELP = "help"


ALIASES = {"routes": Verb.ROUTE}

# Help sections, in the order the help shows them.
MONEY = "Ask for money to move (a human confirms in OpenTrain)"
LOOKUPS = "Look things up"
SETUP = "Set up (changes: admins only)"


@dataclass(frozen=True)
class Role:
    """The role a command needs, and what it does in words (for a refusal naming who can)."""

    need: Need
    doing: str


Run = Callable[[Services, A, Asked], Awaitable[None]]


@dataclass(frozen=True)
class Entry(Generic[A]):
    verb: Verb
    section: str
    syntax: str  # after "/opentrain ", exactly as people type it
    purpose: str
    parse: Callable[[parsing.Words], A]
    run: Run[A]
    role: Role | Callable[[A], Role] | None  # None: anyone in the workspace
    progress: Callable[[A], str] | None = None  # shown in the acknowledgement
    examples: tuple[str, ...] = ()
    more_help: tuple[tuple[str, str], ...] = ()  # further (syntax, purpose) lines

    @property
    def usage(self) -> str:
        return " · ".join(f"{COMMAND} {syntax}" for syntax in self._syntaxes())

    def role_for(self, args: A) -> Role | None:
        return self.role(args) if callable(self.role) else self.role

    def help_lines(self) -> tuple[tuple[str, str], ...]:
        return ((self.syntax, self.purpose), *self.more_help)

    def _syntaxes(self) -> tuple[str, ...]:
        return tuple(syntax for syntax, _ in self.help_lines())


def entry(verb: Verb) -> Entry[Any]:
    """The table: one entry per verb."""
    match verb:
        case Verb.HIRE:
            return Entry[parsing.Hire](
                verb,
                MONEY,
                "hire <proposalId> [amount] [milestone name…]",
                "hire from a proposal with a first milestone",
                parsing.hire,
                money.hire,
                Role("request", "hire on OpenTrain"),
                examples=("/opentrain hire prop_ada 450 Pilot batch",),
            )
        case Verb.FUND:
            return Entry[parsing.MilestoneRef](
                verb,
                MONEY,
                "fund <milestoneId>",
                "fund a milestone into escrow",
                parsing.milestone_ref,
                money.fund,
                Role("request", "fund milestones"),
                lambda m: f"Asking OpenTrain to fund milestone {m.milestone_id}…",
                examples=("/opentrain fund ms_batch2",),
            )
        case Verb.PAYOUT:
            return Entry[parsing.MilestoneRef](
                verb,
                MONEY,
                "payout <milestoneId>",
                "release a funded milestone to the freelancer",
                parsing.milestone_ref,
                money.payout,
                Role("request", "release payouts"),
                lambda m: f"Asking OpenTrain to release the payout of {m.milestone_id}…",
                examples=("/opentrain payout ms_batch1",),
            )
        case Verb.END:
            return Entry[parsing.ContractRef](
                verb,
                MONEY,
                "end <contractId>",
                "end a contract (needs confirmation while escrow is funded)",
                parsing.contract_ref,
                money.end,
                Role("request", "end contracts"),
                lambda c: f"Asking OpenTrain to end contract {c.contract_id}…",
            )
        case Verb.MILESTONE:
            return Entry[parsing.ContractRef](
                verb,
                MONEY,
                "milestone <contractId>",
                "add a milestone to a contract (moves no money)",
                parsing.contract_ref,
                money.milestone,
                Role("request", "add milestones"),
            )
        case Verb.TRACK:
            return Entry[parsing.ApprovalRef](
                verb,
                MONEY,
                "track <approvalId|approvalUrl>",
                "follow an approval created elsewhere",
                parsing.approval_ref_or_link,
                money.track,
                Role("read", "track approvals"),
                lambda a: f"Reading approval {a.approval_id} from OpenTrain…",
                examples=("/opentrain track https://app.opentrain.ai/approvals/appr_123",),
            )
        case Verb.PENDING:
            return Entry[parsing.NoArgs](
                verb,
                LOOKUPS,
                "pending",
                "what is waiting for a human, soonest expiry first",
                parsing.nothing,
                lookups.pending,
                Role("read", "see pending approvals"),
            )
        case Verb.CONTRACTS:
            return Entry[parsing.Contracts](
                verb,
                LOOKUPS,
                "contracts [active|ended]",
                "your contracts",
                parsing.contracts,
                lookups.contracts,
                Role("read", "see contracts"),
                lambda _: "Asking OpenTrain for your contracts…",
            )
        case Verb.CONTRACT:
            return Entry[parsing.ContractRef](
                verb,
                LOOKUPS,
                "contract <contractId>",
                "one contract with its milestones",
                parsing.contract_ref,
                lookups.contract,
                Role("read", "see contracts"),
                lambda c: f"Asking OpenTrain for contract {c.contract_id}…",
            )
        case Verb.JOBS:
            return Entry[parsing.MyJobs](
                verb,
                LOOKUPS,
                "jobs [status]",
                "your jobs and their proposal counts, newest first, each with Proposals",
                parsing.my_jobs,
                lookups.jobs,
                Role("request", "see jobs and their proposals"),
                lambda _: "Asking OpenTrain for your jobs…",
                examples=("/opentrain jobs", "/opentrain jobs draft"),
            )
        case Verb.PROPOSALS:
            return Entry[parsing.JobProposals](
                verb,
                LOOKUPS,
                "proposals <jobId> [status]",
                "a job's proposals, best interview first, each with Hire…",
                parsing.job_proposals,
                lookups.proposals,
                Role("request", "see proposals and hire"),
                lambda j: f"Asking OpenTrain for the proposals on job {j.job_id}…",
                examples=(
                    "/opentrain proposals job_dashcam",
                    "/opentrain proposals job_dashcam shortlisted",
                ),
            )
        case Verb.STATUS:
            return Entry[parsing.NoArgs](
                verb,
                LOOKUPS,
                "status",
                "check the OpenTrain account, token scopes and billing",
                parsing.nothing,
                lookups.status,
                Role("read", "check the OpenTrain account"),
                lambda _: "Checking the OpenTrain account, token and billing…",
            )
        case Verb.AUDIT:
            return Entry[parsing.ApprovalRef](
                verb,
                LOOKUPS,
                "audit <approvalId>",
                "who did what with an approval",
                parsing.approval_ref,
                admin.audit,
                Role("read", "read the audit trail"),
            )
        case Verb.APPROVERS:
            return Entry[parsing.Approvers](
                verb,
                SETUP,
                "approvers [set|add|remove|escalate|admins] [#channel|global] [over <amount>] "
                "@user @group… | after 24h|off",
                "show or change who approves which amounts, and who hears when nobody acts",
                parsing.approvers,
                admin.approvers,
                lambda a: (
                    Role("read", "see approvers")
                    if a.action == "show"
                    else Role("admin", "change approvers")
                ),
                examples=(
                    "/opentrain approvers add #hiring @ana @finance",
                    "/opentrain approvers set global over 1000 @finance-team",
                    "/opentrain approvers escalate global over 1000 after 24h",
                    "/opentrain approvers admins global over 1000 @cfo",
                ),
            )
        case Verb.ROUTE:
            return Entry[parsing.Route](
                verb,
                SETUP,
                "route <jobId|hire|fund|payout|end> #channel",
                "post a job's or type's cards in a channel",
                parsing.route,
                admin.route,
                lambda r: (
                    Role("read", "see routes")
                    if r.action == "list"
                    else Role("admin", "change routes")
                ),
                examples=("/opentrain route job_dashcam #hiring",),
                more_help=(
                    ("route list", "show where cards go"),
                    ("route remove <key>", "forget a route"),
                ),
            )
        case Verb.POLICY:
            return Entry[parsing.NoArgs](
                verb,
                SETUP,
                "policy",
                "agents' spend limits and what each agent used",
                parsing.nothing,
                admin.policy,
                Role("admin", "see the agents' spend policy"),
            )
        case Verb.SUBSCRIBE:
            return Entry[parsing.Subscribe](
                verb,
                SETUP,
                "subscribe <jobId> [proposals] [messages] [budget] [work]",
                "post a job's activity in this channel (all of it unless named)",
                parsing.subscribe,
                admin.subscribe,
                Role("admin", "subscribe channels to jobs"),
                lambda j: f"Checking job {j.job_id} with OpenTrain…",
                examples=(
                    "/opentrain subscribe job_dashcam",
                    "/opentrain subscribe job_dashcam proposals messages",
                ),
            )
        case Verb.UNSUBSCRIBE:
            return Entry[parsing.JobRef](
                verb,
                SETUP,
                "unsubscribe <jobId>",
                "stop posting a job's activity",
                parsing.job_ref,
                admin.unsubscribe,
                Role("admin", "unsubscribe channels from jobs"),
            )
        case Verb.SUBSCRIPTIONS:
            return Entry[parsing.NoArgs](
                verb,
                SETUP,
                "subscriptions",
                "which jobs post their activity where",
                parsing.nothing,
                admin.subscriptions,
                Role("read", "see job subscriptions"),
            )
        case Verb.HELP:
            return Entry[parsing.NoArgs](
                verb, SETUP, "help", "this message", parsing.anything, _help, None
            )
        case _:
            assert_never(verb)


def parse_command(text: str, *, opentrain_host: str, max_amount: Decimal) -> tuple[Entry[Any], Any]:
    """The entry of the verb typed and its parsed arguments; an empty command is `help`."""
    words = text.split()
    if not words:
        return entry(Verb.HELP), parsing.NoArgs()
    word = words[0].lower()
    verb = ALIASES.get(word) or next((v for v in Verb if v.value == word), None)
    if verb is None:
        raise parsing.UsageError(
            f"“{parsing.clip(word)}” is not an /opentrain command.", entry(Verb.HELP).usage
        )
    found = entry(verb)
    context = parsing.Words(
        verb.value,
        tuple(words[1:]),
        found.usage,
        opentrain_host=opentrain_host,
        max_amount=max_amount,
        examples=found.examples,
    )
    return found, found.parse(context)


def help_sections() -> list[HelpSection]:
    """The help text's sections, in table order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for verb in Verb:
        listed = entry(verb)
        sections.setdefault(listed.section, []).extend(listed.help_lines())
    return [HelpSection(heading, tuple(lines)) for heading, lines in sections.items()]


def register(app: Listeners, services: Services) -> None:
    @app.command(COMMAND)
    async def opentrain(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            found, args = parse_command(
                str(command.get("text") or ""),
                opentrain_host=services.settings.opentrain_host,
                max_amount=services.settings.max_amount_usd,
            )
        except parsing.UsageError as exc:
            await ack(**error_message(exc).as_kwargs())
            return
        first = first_answer(found)
        await ack(**(first.as_kwargs() if first is not None else {}))
        reply = Replier(respond, replace=True)
        asked = Asked(
            user_id=str(command["user_id"]),
            channel_id=str(command["channel_id"]),
            trigger_id=str(command.get("trigger_id") or ""),
            reply=reply,
        )
        work = dispatch(services, found, args, asked)
        if found.progress is not None:
            work = reply.note_if_slow(found.progress(args), work)
        await reply.guard(work)


def first_answer(found: Entry[Any]) -> cards.SlackMessage | None:
    """What the acknowledgement shows at once; None when the answer comes later."""
    return cards.help_message(help_sections()) if found.verb is Verb.HELP else None


async def dispatch(services: Services, found: Entry[A], args: A, asked: Asked) -> None:
    """Check the role the entry needs (fails closed), then run its handler."""
    role = found.role_for(args)
    if role is not None:
        await services.roles.require(asked.actor, role.need, role.doing)
    await found.run(services, args, asked)


# --- the handlers -----------------------------------------------------------------------


async def _help(services: Services, args: parsing.NoArgs, asked: Asked) -> None:
    return  # answered in the acknowledgement
