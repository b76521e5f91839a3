"""Turns any failure into words a person can act on — the one place that does it.

Slack listeners render an `Explanation` as an ephemeral reply; the agent API
passes OpenTrain's envelope through instead. Never a stack trace, never a
secret, never an internal message: unexpected errors get one generic sentence
(the details go to the logs). OpenTrain's `requestId` is always included so
support can find the request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from urllib.parse import unquote

from bot.durations import humanize
from bot.opentrain import OpenTrainError, OpenTrainUnavailable
from bot.parsing import UsageError
from bot.roles import AccessDenied
from bot.store import StoreUnavailable

SCOPE_HELP = (
    "Mint a personal API token with these scopes in OpenTrain (Settings → API keys) "
    "and set it as OT_API_TOKEN."
)
STORE_UNAVAILABLE = (
    "The bot could not reach its own database just now, so it could not finish this. "
    "OpenTrain may already have the request: asking again once the bot is back returns the "
    "same one, never a second."
)
UNEXPECTED = (
    "Something went wrong inside the bot (the details are in its logs). OpenTrain may already "
    "have the request: check `/opentrain pending` before trying again."
)


class NotPossible(Exception):
    """A request that cannot be carried out; the message says why, in the requester's words.

    `request_id`: OpenTrain's, when its answer is why (quotable to support)."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass(frozen=True)
class Explanation:
    text: str  # our mrkdwn; may quote typed text, so renderers escape & < >
    link_label: str | None = None
    link_url: str | None = None
    request_id: str | None = None
    hire_anyway: bool = False  # offer to resend the same hire with confirmNotFitOverride
    who_can: tuple[str, ...] = ()  # Slack user / group ids named after the text (refusals)


REASONS = {
    "already_accepted": (
        "This proposal was already hired, so there is nothing to hire again — it has a "
        "contract. See it with `/opentrain contracts`."
    ),
    "not_fit_confirmation_required": (
        "This proposal was marked “Not a fit” in review. If you mean to hire anyway, "
        "press *Hire anyway* to resend the same terms with the override."
    ),
    "milestone_cancelled": "That milestone was cancelled; nothing can be funded or paid on it.",
    "contract_ended": "That contract has already ended; nothing more can be done on it.",
    "message_policy_blocked": (
        "OpenTrain's messaging policy blocked this message (contact details such as an email "
        "address or a phone number are not allowed there). Nothing was sent."
    ),
    "read_only_conversation": (
        "This conversation is read-only now (its contract has ended). Nothing was sent."
    ),
    "message_blocked": "The trainer does not accept messages here. Nothing was sent.",
    "employer_first_message_required": (
        "In a proposal's thread the employer writes first. Nothing was sent."
    ),
    "contract_rate_missing": (
        "That contract has no rate to check a milestone amount against; add the milestone "
        "in the OpenTrain app."
    ),
}


def explain(error: BaseException) -> Explanation:
    if isinstance(error, UsageError):
        examples = "".join(f"\nFor example: `{example}`" for example in error.examples)
        return Explanation(f"{error.problem}\nType: `{error.usage}`{examples}")
    if isinstance(error, OpenTrainUnavailable):
        return Explanation(
            "OpenTrain could not be reached or did not answer in time, so nothing was confirmed. "
            "Try again in a minute: the same request again never creates a second one."
        )
    if isinstance(error, OpenTrainError):
        return _opentrain(error)
    if isinstance(error, AccessDenied):
        return Explanation(str(error), who_can=error.who_can)
    if isinstance(error, NotPossible):
        return Explanation(str(error), request_id=error.request_id)
    if isinstance(error, StoreUnavailable):
        # An outage, not a bug; its cause (a locked file, Redis down) is for the logs.
        return Explanation(STORE_UNAVAILABLE)
    return Explanation(UNEXPECTED)


def _opentrain(error: OpenTrainError) -> Explanation:
    reason = error.reason
    rid = error.request_id
    if reason == "account_claim_required":
        return Explanation(
            "The OpenTrain account behind the bot's token is not claimed by a human yet, "
            "so it cannot hire or move money. A human must claim it first.",
            "Claim the account",
            error.claim_url,
            rid,
        )
    if reason == "payment_method_required":
        # Only a hire carries fees (10 % + $9.95); a later funding is the milestone amount.
        hire = (error.path or "").endswith("/hire")
        covered = "the milestone plus fees" if hire else "the milestone amount"
        return Explanation(
            "OpenTrain needs a payment method: there is no card on file and the credit balance "
            f"does not cover {covered}. A human can add a card or credits, then retry.",
            "Open billing",
            error.billing_url,
            rid,
        )
    if reason in ("milestone_not_funded", "milestone_not_fundable"):
        return Explanation(milestone_advice(error), request_id=rid)
    if reason == "already_accepted" and (contract_id := known_id(error, "contractId")):
        return Explanation(
            "This proposal was already hired, so there is nothing to hire again — it has "
            f"contract `{contract_id}`. See it with `/opentrain contract {contract_id}`.",
            request_id=rid,
        )
    if reason in REASONS:
        return Explanation(
            REASONS[reason], request_id=rid, hire_anyway=reason == "not_fit_confirmation_required"
        )
    if error.code == "FORBIDDEN" and error.required_scopes:
        scopes = ", ".join(f"`{s}`" for s in error.required_scopes)
        return Explanation(
            f"The bot's OpenTrain token lacks {scopes}. {SCOPE_HELP}", request_id=rid
        )
    if error.code == "FORBIDDEN" and error.feature_key:
        return Explanation(
            f"The OpenTrain feature `{error.feature_key}` is not enabled for this account. "
            "Ask OpenTrain to enable it.",
            request_id=rid,
        )
    if error.code == "FORBIDDEN":
        return Explanation("OpenTrain refused this for the bot's token (403).", request_id=rid)
    if error.code == "UNAUTHORIZED":
        return Explanation(
            "OpenTrain does not accept the bot's API token (missing, expired or revoked). "
            "An admin must set a valid OT_API_TOKEN.",
            request_id=rid,
        )
    if error.code == "NOT_FOUND":
        return Explanation(_not_found(error), request_id=rid)
    if error.code == "RATE_LIMITED":
        return Explanation(
            f"OpenTrain is rate limiting the bot. Try again {_after(error.retry_after_seconds)}.",
            request_id=rid,
        )
    if error.code == "BAD_REQUEST":
        field = error.details.get("field")
        where = f" (field `{field}`)" if isinstance(field, str) else ""
        return Explanation(f"OpenTrain rejected the request as invalid{where}.", request_id=rid)
    if error.code == "CONFLICT":
        return Explanation(
            f"OpenTrain refused this in the current state (`{reason or 'conflict'}`).",
            request_id=rid,
        )
    # A 5xx, or an answer that is not OpenTrain's (a proxy's HTML error page).
    status = f" (HTTP {error.status})" if error.status else ""
    return Explanation(
        f"OpenTrain is unavailable right now{status}, so nothing was confirmed. Try again in "
        "a minute: the same request again never creates a second one.",
        request_id=rid,
    )


# Paid milestones' status value is unconfirmed (opentrain-api.md §10.1): any of these.
PAID_STATUSES = frozenset({"PAID", "RELEASED", "COMPLETED", "APPROVED", "PAID_OUT"})


def milestone_advice(error: OpenTrainError) -> str:
    """What to do about a fund or payout refused for the milestone's state.

    The co-sign service adds `milestoneStatus` / `milestoneId` when it could read the
    milestone, so the advice fits what it really is (a paid milestone is not "unfunded").
    """
    status = str(error.details.get("milestoneStatus") or "").upper()
    milestone_id = known_id(error, "milestoneId", "milestones")
    if status in PAID_STATUSES:
        return "That milestone was already paid out; there is nothing left to fund or release."
    if error.reason == "milestone_not_fundable":
        if status in ("", "ACTIVE_FUNDED"):
            funded = "That milestone cannot be funded — it is already funded."
            if milestone_id is None:
                return funded
            return (
                f"{funded} Once the work is accepted, release its payout with "
                f"`/opentrain payout {milestone_id}`."
            )
        return f"That milestone cannot be funded while it is `{status}`."
    if status in ("", "NOT_FUNDED"):
        return (
            "That milestone is not funded yet, so there is nothing to pay out. Fund it first "
            f"with `/opentrain fund {milestone_id or '<milestoneId>'}`."
        )
    return f"That milestone cannot be paid out while it is `{status}`."


# What an id must look like to be put in a command to copy: OpenTrain's ids are short
# words (`ms_123`, `ctr_9`); anything else is left for the person to fill in.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_COLLECTIONS = ("approvals", "proposals", "contracts", "milestones", "webhooks")


def known_id(error: OpenTrainError, key: str, collection: str | None = None) -> str | None:
    """The id OpenTrain's answer names (`details[key]`) or, failing that, the one in the path
    the request went to (`/<collection>/<id>/…`): advice names it instead of a placeholder."""
    value = error.details.get(key)
    if not isinstance(value, str) or not value:
        value = _path_id(error.path, collection) if collection else None
    return value if value is not None and _ID.fullmatch(value) else None


def _path_id(path: str | None, collection: str) -> str | None:
    segments = (path or "").split("?")[0].strip("/").split("/")
    for here, following in pairwise(segments):
        if here == collection and following:
            return unquote(following)
    return None


def _not_found(error: OpenTrainError) -> str:
    """404 details name the resource and its id: `{resource: "approvals", approvalId}`; without
    them, the path asked for (`/milestones/ms_9/fund`) still says which."""
    resource = error.resource
    ids = [v for k, v in error.details.items() if k.endswith("Id") and isinstance(v, str) and v]
    if not ids:
        for collection in _COLLECTIONS:
            found = _path_id(error.path, collection) if resource in (None, collection) else None
            if found and _ID.fullmatch(found):
                resource, ids = collection, [found]
                break
    what = (resource or "item").removesuffix("s").replace("-", " ")
    named = f" `{ids[0]}`" if ids else ""
    return f"OpenTrain has no {what}{named} for this account — check the id."


def _after(seconds: float | None) -> str:
    if not seconds:
        return "in a minute"
    return "in " + humanize(timedelta(seconds=math.ceil(seconds)))
