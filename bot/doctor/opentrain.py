"""The doctor's OpenTrain checks (also `/opentrain status`): account, token, features, credits."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from bot.doctor.check import Check
from bot.money import format_usd
from bot.opentrain import AuthMe, Forbidden, OpenTrainClient, OpenTrainError, Unauthorized

HIRING_SCOPES = ("proposals:write", "payments:write", "payments:read")
# Not needed to co-sign: `/opentrain jobs` and job subscriptions (proposals, trainers' messages).
ACTIVITY_SCOPES = ("jobs:read", "proposals:read", "messages:read", "messages:write")
WEBHOOK_PATH = "/opentrain/webhook"


async def opentrain_checks(
    client: OpenTrainClient, origin: str, *, webhook_secret_set: bool | None = None
) -> list[Check]:
    """The hiring preconditions (opentrain-api.md §0.1), in the order a human fixes them.

    With `webhook_secret_set` given, the webhook subscription is checked too.
    """
    try:
        me = await client.auth_me()
    except Unauthorized:
        return [
            Check(
                "OpenTrain token",
                False,
                "OpenTrain rejects the token (missing, expired or revoked).",
                "Set OT_API_TOKEN to a personal API token (ot_pat_…) from OpenTrain.",
            )
        ]
    except OpenTrainError as exc:
        if exc.code in ("RATE_LIMITED", "INTERNAL_ERROR"):
            fix = "OpenTrain is busy or failing right now; run the check again in a minute."
        else:
            fix = f"Check that {origin} is reachable and OT_API_BASE_URL is right."
        return [
            Check(
                "OpenTrain token",
                False,
                f"OpenTrain could not be asked: {exc.code or exc.message}.",
                fix,
            )
        ]
    checks = [Check("OpenTrain token", True, f"valid (token “{me.token.label or me.token.id}”)")]
    checks.append(
        Check("Claimed account", True, "a human owns the account")
        if me.claimed
        else Check(
            "Claimed account",
            False,
            "the account has not been claimed by a human, so it cannot hire or move money",
            "A human must claim it in OpenTrain.",
            f"{origin.rstrip('/')}/claim",
        )
    )
    missing = [scope for scope in HIRING_SCOPES if not me.has_scope(scope)]
    mint = "a token with these scopes in OpenTrain (Settings → API keys)"
    checks.append(
        Check("Token scopes", True, ", ".join(HIRING_SCOPES))
        if not missing
        else Check(
            "Token scopes",
            False,
            "missing " + ", ".join(missing),
            # An unclaimed account's tokens hold the pre-claim scopes only: claim comes first.
            f"Mint {mint}."
            if me.claimed
            else f"Claim the account first (above), then mint {mint}.",
        )
    )
    checks.append(_activity_scopes(me))
    checks.append(await _features(client))
    checks.append(await _credits(client))
    if webhook_secret_set is not None:
        checks.append(await _webhook(client, webhook_secret_set))
    return checks


def _activity_scopes(me: AuthMe) -> Check:
    missing = [scope for scope in ACTIVITY_SCOPES if not me.has_scope(scope)]
    if not missing:
        return Check("Job activity scopes", True, ", ".join(ACTIVITY_SCOPES), required=False)
    return Check(
        "Job activity scopes",
        False,
        "missing " + ", ".join(missing),
        "For /opentrain jobs and job subscriptions (new proposals, trainers' messages both ways), "
        "mint a token with these scopes too.",
        required=False,
    )


async def _features(client: OpenTrainClient) -> Check:
    try:
        capabilities = (await client.capabilities()).capabilities
    except Forbidden as exc:
        return Check(
            "Features",
            False,
            f"the capabilities probe is not available ({exc.feature_key or exc.code}), "
            "so hiring features cannot be confirmed",
            "Ask OpenTrain to enable public_api_hiring and public_api_payments_write.",
            required=False,
        )
    except OpenTrainError as exc:
        return Check("Features", False, f"could not be read: {exc.code}", required=False)
    off = [
        key
        for key, enabled in (
            ("public_api_hiring", capabilities.hiring),
            ("public_api_payments_write", capabilities.payments_write),
        )
        if not enabled
    ]
    if off:
        return Check(
            "Features",
            False,
            "off: " + ", ".join(off),
            "Ask OpenTrain to enable them for this account.",
        )
    return Check("Features", True, "public_api_hiring, public_api_payments_write")


async def _credits(client: OpenTrainClient) -> Check:
    try:
        credits = await client.credits()
    except OpenTrainError as exc:
        return Check("Credit balance", False, f"could not be read: {exc.code}", required=False)
    if credits.available_usd > Decimal(0):
        return Check("Credit balance", True, f"{format_usd(credits.available_usd)} available")
    return Check(
        "Credit balance",
        False,
        "$0.00 available — hires need a card on file or credits covering amount + fees",
        "A human can add a card or credits in OpenTrain billing.",
        required=False,
    )


async def _webhook(client: OpenTrainClient, secret_set: bool) -> Check:
    """Webhooks are optional (the bot polls `/updates` anyway); once used, both halves must fit:
    one ACTIVE subscription to our `/opentrain/webhook`, and its secret in OT_WEBHOOK_SECRET."""
    register = (
        "`python -m bot webhooks register --url https://<bot host>/opentrain/webhook`, then set "
        "OT_WEBHOOK_SECRET to the secret it prints"
    )
    try:
        hooks = await client.list_webhooks()
    except OpenTrainError as exc:
        if not secret_set:
            return Check("Webhook", True, "not used — the bot polls OpenTrain's /updates feed")
        return Check(
            "Webhook",
            False,
            f"OT_WEBHOOK_SECRET is set, but the subscriptions cannot be listed ({exc.code}); "
            "listing needs webhooks:manage and the public_api_webhooks feature",
            "Check the subscription with a token that may manage webhooks.",
            required=False,
        )
    ours = [hook for hook in hooks if urlsplit(hook.url).path.rstrip("/").endswith(WEBHOOK_PATH)]
    active = [hook for hook in ours if hook.status == "ACTIVE"]
    if not secret_set:
        if not ours:
            return Check("Webhook", True, "not used — the bot polls OpenTrain's /updates feed")
        return Check(
            "Webhook",
            False,
            f"OpenTrain delivers to {ours[0].url}, but OT_WEBHOOK_SECRET is not set, so the bot "
            "refuses every delivery",
            "Set OT_WEBHOOK_SECRET to the whsec_… secret shown when the subscription was "
            f"created; lost it? `python -m bot webhooks delete {ours[0].id}` and {register}.",
        )
    if not active:
        if ours:
            return Check(
                "Webhook",
                False,
                f"the subscription to {ours[0].url} is {ours[0].status}"
                + (f" ({ours[0].disabled_reason})" if ours[0].disabled_reason else ""),
                "A disabled subscription cannot be re-enabled: "
                f"`python -m bot webhooks delete {ours[0].id}`, then {register}.",
            )
        return Check(
            "Webhook",
            False,
            f"OT_WEBHOOK_SECRET is set, but OpenTrain has no subscription to …{WEBHOOK_PATH}",
            f"Run {register} (or unset OT_WEBHOOK_SECRET to rely on polling alone).",
        )
    if len(active) > 1:
        return Check(
            "Webhook",
            False,
            f"{len(active)} active subscriptions deliver to …{WEBHOOK_PATH}; only the one whose "
            "secret is OT_WEBHOOK_SECRET can be verified",
            "Keep one: `python -m bot webhooks list`, then `python -m bot webhooks delete <id>`.",
            required=False,
        )
    hook = active[0]
    return Check("Webhook", True, f"{hook.status} subscription {hook.id} → {hook.url}")
