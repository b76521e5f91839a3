"""Parsing `/opentrain …` text into typed commands — pure, so every rule is unit-tested.

Bad input raises `UsageError(problem, usage)`: what was wrong and exactly what
to type instead. Slack escapes mentions in command text when the command has
`should_escape: true` (`<#C123|general>`, `<@U123|ana>`, `<!subteam^S1|@team>`,
`<https://…>`) and always encodes `&`, `<` and `>` as entities, so both escaped
and plain forms are accepted, and free text is decoded back to what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from bot import slack_ids
from bot.approvals import parse_amount

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

USAGE = {
    "hire": "/opentrain hire <proposalId> [amount] [milestone name…]",
    "fund": "/opentrain fund <milestoneId>",
    "payout": "/opentrain payout <milestoneId>",
    "end": "/opentrain end <contractId>",
    "milestone": "/opentrain milestone <contractId>",
    "track": "/opentrain track <approvalId or approval link>",
    "pending": "/opentrain pending",
    "contracts": "/opentrain contracts [active|ended]",
    "contract": "/opentrain contract <contractId>",
    "status": "/opentrain status",
    "approvers": "/opentrain approvers [set|add|remove] [#channel|global] @user @group…",
    "route": (
        "/opentrain route <jobId|hire|fund|payout|end> #channel · route list · route remove <key>"
    ),
    "audit": "/opentrain audit <approvalId>",
    "policy": "/opentrain policy",
    "help": "/opentrain help",
}


class UsageError(ValueError):
    def __init__(self, problem: str, usage: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage


@dataclass(frozen=True)
class Hire:
    proposal_id: str
    amount: Decimal | None = None
    name: str = ""


@dataclass(frozen=True)
class OnMilestone:
    action: str  # "fund" | "payout"
    milestone_id: str


@dataclass(frozen=True)
class OnContract:
    action: str  # "end" | "milestone" | "contract"
    contract_id: str


@dataclass(frozen=True)
class Track:
    approval_id: str


@dataclass(frozen=True)
class Simple:
    action: str  # "pending" | "status" | "policy" | "help"


@dataclass(frozen=True)
class Contracts:
    status: str | None = None


@dataclass(frozen=True)
class Approvers:
    action: str  # "show" | "set" | "add" | "remove"
    scope: str | None = None  # channel id, or "global"; None = the current channel
    members: tuple[str, ...] = field(default_factory=tuple)  # U… users and S… groups


@dataclass(frozen=True)
class Route:
    action: str  # "list" | "set" | "remove"
    target: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class Audit:
    approval_id: str


Command = Hire | OnMilestone | OnContract | Track | Simple | Contracts | Approvers | Route | Audit


def parse_command(text: str, *, opentrain_host: str, max_amount: Decimal) -> Command:
    words = text.split()
    if not words:
        return Simple("help")
    verb, args = words[0].lower(), words[1:]
    match verb:
        case "help":
            return Simple("help")
        case "pending" | "status" | "policy":
            _no_args(verb, args)
            return Simple(verb)
        case "hire":
            return _hire(args, max_amount)
        case "fund" | "payout":
            return OnMilestone(verb, _one_id(verb, args, "milestone id"))
        case "end" | "milestone" | "contract":
            return OnContract(verb, _one_id(verb, args, "contract id"))
        case "track":
            return _track(args, opentrain_host)
        case "contracts":
            return _contracts(args)
        case "approvers":
            return _approvers(args)
        case "route" | "routes":
            return _route(args)
        case "audit":
            return Audit(_one_id("audit", args, "approval id"))
    raise UsageError(f"“{_clip(verb)}” is not an /opentrain command.", USAGE["help"])


def _no_args(verb: str, args: list[str]) -> None:
    if args:
        raise UsageError(f"`{verb}` takes no arguments.", USAGE[verb])


def _one_id(verb: str, args: list[str], what: str) -> str:
    if len(args) != 1:
        missing = not args
        article = "an" if what[0] in "aeiou" else "a"
        problem = (
            f"`{verb}` needs {article} {what}."
            if missing
            else f"`{verb}` takes exactly one {what}."
        )
        raise UsageError(problem, USAGE[verb])
    return check_id(args[0], what, USAGE[verb])


def check_id(value: str, what: str, usage: str) -> str:
    if not ID_PATTERN.match(value):
        raise UsageError(
            f"“{_clip(value)}” is not a valid {what} (letters, digits, _ and - only).", usage
        )
    return value


def _hire(args: list[str], max_amount: Decimal) -> Hire:
    if not args:
        raise UsageError("`hire` needs a proposal id.", USAGE["hire"])
    proposal_id = check_id(args[0], "proposal id", USAGE["hire"])
    rest = args[1:]
    amount: Decimal | None = None
    if rest and AMOUNT_LIKE.match(rest[0]):
        try:
            amount = parse_amount(rest[0], max_amount)
        except ValueError as exc:
            raise UsageError(f"Amount: {exc}.", USAGE["hire"]) from None
        rest = rest[1:]
    name = typed_text(" ".join(rest))
    if len(name) > MAX_NAME:
        raise UsageError(
            f"The milestone name is {len(name)} characters; the limit is {MAX_NAME}.", USAGE["hire"]
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


def _track(args: list[str], opentrain_host: str) -> Track:
    if len(args) != 1:
        raise UsageError("`track` needs one approval id or approval link.", USAGE["track"])
    value = args[0]
    if "/" in value or value.startswith("<"):
        approval_id = approval_id_from_link(value, opentrain_host)
        if approval_id is None:
            raise UsageError(
                f"That is not an OpenTrain approval link (expected https://{opentrain_host}"
                "/approvals/<id>).",
                USAGE["track"],
            )
        return Track(approval_id)
    return Track(check_id(value, "approval id", USAGE["track"]))


def _contracts(args: list[str]) -> Contracts:
    if not args:
        return Contracts()
    if len(args) == 1 and args[0].lower() in ("active", "ended"):
        return Contracts(args[0].lower())
    raise UsageError("`contracts` takes `active`, `ended` or nothing.", USAGE["contracts"])


def parse_channel(token: str) -> str | None:
    match = CHANNEL_PATTERN.match(token)
    return (match.group(1) or match.group(2)) if match else None


def parse_member(token: str) -> str | None:
    for pattern in (USER_PATTERN, GROUP_PATTERN):
        match = pattern.match(token)
        if match:
            return match.group(1) or match.group(2)
    return None


def _approvers(args: list[str]) -> Approvers:
    if not args:
        return Approvers("show")
    action, rest = args[0].lower(), args[1:]
    if action not in ("set", "add", "remove", "show"):
        raise UsageError(f"`approvers {_clip(action)}` is not known.", USAGE["approvers"])
    scope: str | None = None
    if rest and rest[0].lower() == "global":
        scope, rest = "global", rest[1:]
    elif rest and parse_channel(rest[0]):
        scope, rest = parse_channel(rest[0]), rest[1:]
    members = []
    for token in rest:
        member = parse_member(token)
        if member is None:
            raise UsageError(
                f"“{_clip(token)}” is not a @user or @group mention.", USAGE["approvers"]
            )
        members.append(member)
    if action == "show":
        if members:
            raise UsageError("`approvers show` takes no mentions.", USAGE["approvers"])
    elif not members:
        why = " (an empty list would stop every reminder)" if action == "set" else ""
        raise UsageError(
            f"`approvers {action}` needs at least one @mention{why}.", USAGE["approvers"]
        )
    return Approvers(action, scope, tuple(dict.fromkeys(members)))


def _route(args: list[str]) -> Route:
    if not args or args[0].lower() == "list":
        if len(args) > 1:
            raise UsageError("`route list` takes no arguments.", USAGE["route"])
        return Route("list")
    if args[0].lower() == "remove":
        if len(args) != 2:
            raise UsageError("`route remove` needs the job id or type to unroute.", USAGE["route"])
        return Route("remove", target=check_id(args[1], "job id or type", USAGE["route"]))
    if len(args) != 2:
        raise UsageError("`route` needs a job id or type and a #channel.", USAGE["route"])
    target = check_id(args[0], "job id or type", USAGE["route"])
    channel = parse_channel(args[1])
    if channel is None:
        raise UsageError(f"“{_clip(args[1])}” is not a #channel.", USAGE["route"])
    return Route("set", target=target, channel_id=channel)


def _clip(text: str, limit: int = 40) -> str:
    """What the person typed, shortened for quoting in a problem message."""
    text = typed_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
