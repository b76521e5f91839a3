"""Reading the arguments of `/opentrain …` into typed values — pure, so every rule is unit-tested.

Each verb's arguments have a parser here (the command table in `handlers/commands.py`
names which); bad input raises `UsageError`: what was wrong and exactly what to type
instead. Slack escapes mentions in command text when the command has
`should_escape: true` (`<#C123|general>`, `<@U123|ana>`, `<!subteam^S1|@team>`,
`<https://…>`) and always encodes `&`, `<` and `>` as entities, so both escaped
and plain forms are accepted, and free text is decoded back to what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from bot import slack_ids
from bot.durations import parse_duration
from bot.money import parse_amount
from bot.store.kinds import Topic

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")
CHANNEL_PATTERN = re.compile(
    rf"^<#({slack_ids.CONVERSATION_ID})(?:\|[^>]*)?>$|^({slack_ids.CHANNEL_ID})$"
)
USER_PATTERN = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")
GROUP_PATTERN = re.compile(r"^<!subteam\^(S[A-Z0-9]{2,})(?:\|[^>]*)?>$|^(S[A-Z0-9]{2,})$")
# A word made of digits, separators, signs and `$` is meant as an amount, even a bad one
# ("45.5.5", "-3"): it is rejected with a reason rather than taken as the milestone name.
AMOUNT_LIKE = re.compile(r"^[-+$]*[\d.,]*\d[\d.,]*$")
SLACK_TOKEN = re.compile(r"<([^<>]*)>")
MAX_NAME = 200
MIN_ESCALATE_AFTER = timedelta(minutes=5)


class UsageError(ValueError):
    """Input that cannot be read: what was wrong, and what to type instead."""

    def __init__(self, problem: str, usage: str, examples: tuple[str, ...] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage
        self.examples = examples


@dataclass(frozen=True)
class Words:
    """What followed a verb, and what reading it needs (the verb's usage for problems)."""

    verb: str
    args: tuple[str, ...]
    usage: str
    opentrain_host: str
    max_amount: Decimal
    examples: tuple[str, ...] = ()

    def problem(self, text: str) -> UsageError:
        return UsageError(text, self.usage, self.examples)


# --- what each verb takes ------------------------------------------------------------------


@dataclass(frozen=True)
class NoArgs:
    pass


@dataclass(frozen=True)
class Hire:
    proposal_id: str
    amount: Decimal | None = None
    name: str = ""


@dataclass(frozen=True)
class MilestoneRef:
    milestone_id: str


@dataclass(frozen=True)
class ContractRef:
    contract_id: str


@dataclass(frozen=True)
class ApprovalRef:
    approval_id: str


@dataclass(frozen=True)
class Contracts:
    status: str | None = None


@dataclass(frozen=True)
class JobProposals:
    job_id: str
    status: str | None = None  # OpenTrain's raw status (UNREVIEWED…); None: the open ones


@dataclass(frozen=True)
class MyJobs:
    status: str | None = None  # OpenTrain's job status (DRAFT…); None: all but closed ones


@dataclass(frozen=True)
class Approvers:
    action: str  # "show" | "set" | "add" | "remove" | "escalate" | "admins"
    scope: str | None = None  # channel id, or "global"; None = the current channel
    members: tuple[str, ...] = field(default_factory=tuple)  # U… users and S… groups
    over: Decimal = Decimal(0)  # the tier: from this amount up (0: the base tier)
    after: timedelta | None = None  # escalate: the tier's own delay
    off: bool = False  # escalate: never (neither: ESCALATE_AFTER applies)


@dataclass(frozen=True)
class Route:
    action: str  # "list" | "set" | "remove"
    target: str | None = None
    channel_id: str | None = None


# --- the parsers (one per shape of arguments) -----------------------------------------------


def anything(words: Words) -> NoArgs:
    """`help` ignores what follows it: "help me please" still helps."""
    return NoArgs()


def nothing(words: Words) -> NoArgs:
    if words.args:
        raise words.problem(f"`{words.verb}` takes no arguments.")
    return NoArgs()


def milestone_ref(words: Words) -> MilestoneRef:
    return MilestoneRef(_one_id(words, "milestone id"))


def contract_ref(words: Words) -> ContractRef:
    return ContractRef(_one_id(words, "contract id"))


def approval_ref(words: Words) -> ApprovalRef:
    return ApprovalRef(_one_id(words, "approval id"))


def _one_id(words: Words, what: str) -> str:
    if len(words.args) != 1:
        article = "an" if what[0] in "aeiou" else "a"
        raise words.problem(
            f"`{words.verb}` needs {article} {what}."
            if not words.args
            else f"`{words.verb}` takes exactly one {what}."
        )
    return check_id(words.args[0], what, words)


def check_id(value: str, what: str, words: Words) -> str:
    if not ID_PATTERN.match(value):
        raise words.problem(
            f"“{clip(value)}” is not a valid {what} (letters, digits, _ and - only)."
        )
    return value


def hire(words: Words) -> Hire:
    if not words.args:
        raise words.problem("`hire` needs a proposal id.")
    proposal_id = check_id(words.args[0], "proposal id", words)
    rest = words.args[1:]
    amount: Decimal | None = None
    if rest and AMOUNT_LIKE.match(rest[0]):
        try:
            amount = parse_amount(rest[0], words.max_amount)
        except ValueError as exc:
            raise words.problem(f"Amount: {exc}.") from None
        rest = rest[1:]
    name = typed_text(" ".join(rest))
    if len(name) > MAX_NAME:
        raise words.problem(
            f"The milestone name is {len(name)} characters; the limit is {MAX_NAME}."
        )
    return Hire(proposal_id, amount, name)


def typed_text(text: str) -> str:
    """Escaped command text as the person saw it: `<@U1|ana>` → `@ana`, `&lt;` → `<`.

    Mentions, channels and links become the words Slack showed; the text then goes
    to OpenTrain as plain text, and cards escape it again wherever they show it.
    """
    return _unescape(SLACK_TOKEN.sub(_readable, text))


def _readable(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target.startswith(("@", "#")):
        return target[0] + (label.lstrip("@#") or target[1:])
    if target.startswith("!subteam^"):
        return "@" + (label.lstrip("@") or target.removeprefix("!subteam^"))
    if target.startswith("!date^"):
        return label
    if target.startswith("!"):
        return "@" + (label.lstrip("@") or target[1:])
    return label or target


def _unescape(text: str) -> str:
    # Slack encodes exactly these three; `&amp;` last so `&amp;lt;` stays the typed `&lt;`.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def approval_id_from_link(text: str, opentrain_host: str) -> str | None:
    """The approval id in `https://<opentrain host>/approvals/<id>`, or None for any other link."""
    url = text.strip().removeprefix("<").removesuffix(">").split("|", 1)[0]
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. `http://[…` without its closing bracket: anyone can type that
        return None
    if parts.scheme not in ("https", "http") or parts.netloc.lower() != opentrain_host.lower():
        return None
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 2 or segments[0] != "approvals" or not ID_PATTERN.match(segments[1]):
        return None
    return segments[1]


def approval_ref_or_link(words: Words) -> ApprovalRef:
    """An approval id, or the approval's link on the OpenTrain host."""
    if len(words.args) != 1:
        raise words.problem("`track` needs one approval id or approval link.")
    value = words.args[0]
    if "/" in value or value.startswith("<"):
        approval_id = approval_id_from_link(value, words.opentrain_host)
        if approval_id is None:
            raise words.problem(
                f"That is not an OpenTrain approval link (expected https://{words.opentrain_host}"
                "/approvals/<id>)."
            )
        return ApprovalRef(approval_id)
    return ApprovalRef(check_id(value, "approval id", words))


def contracts(words: Words) -> Contracts:
    args = words.args
    if not args:
        return Contracts()
    if len(args) == 1 and args[0].lower() in ("active", "ended"):
        return Contracts(args[0].lower())
    raise words.problem("`contracts` takes `active`, `ended` or nothing.")


def parse_channel(token: str) -> str | None:
    match = CHANNEL_PATTERN.match(token)
    return (match.group(1) or match.group(2)) if match else None


def parse_member(token: str) -> str | None:
    for pattern in (USER_PATTERN, GROUP_PATTERN):
        match = pattern.match(token)
        if match:
            return match.group(1) or match.group(2)
    return None


PROPOSAL_STATUSES = (
    "UNREVIEWED",
    "SHORTLISTED",
    "MAYBE",
    "HIRED",
    "DECLINED",
    "NOT_A_FIT",
    "RESUME_SENT",
)


def job_proposals(words: Words) -> JobProposals:
    """`<jobId> [status]`; the status as OpenTrain reads it (any case, `-` or space for `_`)."""
    if not words.args or len(words.args) > 2:
        raise words.problem("`proposals` needs a job id, and optionally a status.")
    job_id = check_id(words.args[0], "job id", words)
    if len(words.args) == 1:
        return JobProposals(job_id)
    status = words.args[1].upper().replace("-", "_")
    if status not in PROPOSAL_STATUSES:
        known = ", ".join(s.lower() for s in PROPOSAL_STATUSES)
        raise words.problem(f"“{clip(words.args[1])}” is not a proposal status ({known}).")
    return JobProposals(job_id, status)


@dataclass(frozen=True)
class Subscribe:
    job_id: str
    topics: frozenset[Topic]


@dataclass(frozen=True)
class JobRef:
    job_id: str


def subscribe(words: Words) -> Subscribe:
    """`<jobId> [proposals] [messages] [budget] [work]`; no topic: all of them."""
    if not words.args:
        raise words.problem("`subscribe` needs a job id, and optionally what to hear about.")
    job_id = check_id(words.args[0], "job id", words)
    topics = set()
    for word in words.args[1:]:
        topic = next((t for t in Topic if t.value == word.lower()), None)
        if topic is None:
            known = ", ".join(t.value for t in Topic)
            raise words.problem(f"“{clip(word)}” is not something to hear about ({known}).")
        topics.add(topic)
    return Subscribe(job_id, frozenset(topics or Topic))


def job_ref(words: Words) -> JobRef:
    return JobRef(_one_id(words, "job id"))


JOB_STATUSES = ("DRAFT", "OPEN", "ONGOING", "COMPLETED", "ARCHIVED", "PENDING_APPROVAL")


def my_jobs(words: Words) -> MyJobs:
    """`[status]`; the status in any case, `-` for `_` (OpenTrain takes it in capitals)."""
    if len(words.args) > 1:
        raise words.problem("`jobs` takes one status at most.")
    if not words.args:
        return MyJobs()
    status = words.args[0].upper().replace("-", "_")
    if status not in JOB_STATUSES:
        known = ", ".join(s.lower() for s in JOB_STATUSES)
        raise words.problem(f"“{clip(words.args[0])}” is not a job status ({known}).")
    return MyJobs(status)


APPROVER_ACTIONS = ("show", "set", "add", "remove", "escalate", "admins")


def approvers(words: Words) -> Approvers:
    """`[set|add|remove|escalate|admins] [#channel|global] [over <amount>] …`: mentions, or
    for `escalate` `after <duration|off|default>`, for `admins` mentions or `none`."""
    args = words.args
    if not args:
        return Approvers("show")
    action, rest = args[0].lower(), list(args[1:])
    if action not in APPROVER_ACTIONS:
        raise words.problem(f"`approvers {clip(action)}` is not known.")
    scope: str | None = None
    if rest and rest[0].lower() == "global":
        scope = "global"
        rest.pop(0)
    elif rest and parse_channel(rest[0]):
        scope = parse_channel(rest.pop(0))
    over = Decimal(0)
    if action != "show" and rest and rest[0].lower() == "over":
        if len(rest) < 2:
            raise words.problem("`over` needs an amount, like `over 1000`.")
        try:
            over = parse_amount(rest[1], words.max_amount)
        except ValueError as exc:
            raise words.problem(f"Tier amount: {exc}.") from None
        rest = rest[2:]
    if action == "escalate":
        after, off = _escalation(rest, words)
        return Approvers(action, scope, over=over, after=after, off=off)
    if action == "admins" and [word.lower() for word in rest] == ["none"]:
        return Approvers(action, scope, over=over)
    members = [_member(token, words) for token in rest]
    if action == "show":
        if members:
            raise words.problem("`approvers show` takes no mentions.")
    elif not members:
        why = {
            "set": " (an empty list would stop every reminder)",
            "admins": " (or `none`: the admins decide)",
        }.get(action, "")
        raise words.problem(f"`approvers {action}` needs at least one @mention{why}.")
    return Approvers(action, scope, tuple(dict.fromkeys(members)), over=over)


def _escalation(rest: list[str], words: Words) -> tuple[timedelta | None, bool]:
    """`after <duration|off|default>`: (the delay, off); (None, False) is the default."""
    if len(rest) != 2 or rest[0].lower() != "after":
        raise words.problem("`approvers escalate` needs `after` and a delay: 24h, off or default.")
    delay = rest[1].lower()
    if delay in ("off", "default"):
        return None, delay == "off"
    try:
        after = parse_duration(delay)
    except ValueError:
        raise words.problem(f"“{clip(rest[1])}” is not a delay (use e.g. 24h, 90m, 2d).") from None
    if after < MIN_ESCALATE_AFTER:
        raise words.problem("Escalate after 5 minutes at the least.")
    return after, False


def _member(token: str, words: Words) -> str:
    member = parse_member(token)
    if member is None:
        raise words.problem(f"“{clip(token)}” is not a @user or @group mention.")
    return member


def route(words: Words) -> Route:
    args = words.args
    if not args or args[0].lower() == "list":
        if len(args) > 1:
            raise words.problem("`route list` takes no arguments.")
        return Route("list")
    if args[0].lower() == "remove":
        if len(args) != 2:
            raise words.problem("`route remove` needs the job id or type to unroute.")
        return Route("remove", target=check_id(args[1], "job id or type", words))
    if len(args) != 2:
        raise words.problem("`route` needs a job id or type and a #channel.")
    target = check_id(args[0], "job id or type", words)
    channel = parse_channel(args[1])
    if channel is None:
        raise words.problem(f"“{clip(args[1])}” is not a #channel.")
    return Route("set", target=target, channel_id=channel)


def clip(text: str, limit: int = 40) -> str:
    """What the person typed, shortened for quoting in a problem message."""
    text = typed_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
