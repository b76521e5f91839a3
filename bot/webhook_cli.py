"""`python -m bot webhooks register|list|delete`: the OpenTrain webhook subscription.

`register` subscribes the bot's `/opentrain/webhook` to the events that should
wake the tracker and prints the signing secret (OpenTrain shows it only once)
with where to put it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.config import Settings
from bot.opentrain import OpenTrainClient, OpenTrainError, OpenTrainUnavailable

# The events whose arrival should wake the tracker (the feed stays the ledger): outcomes,
# and the job activity subscriptions announce (bot/job_activity.py).
EVENT_TYPES = (
    "approval.confirmed",
    "milestone.status_changed",
    "contract.created",
    "payment.pending",
    "proposal.received",
    "message.received",
    "contract.budget_state_changed",
)


async def run_webhooks(
    settings: Settings, args: argparse.Namespace, out: Callable[[str], None] = print
) -> int:
    """Run one `webhooks` subcommand; the exit status (0 ok, 1 OpenTrain refused, 2 setup)."""
    if settings.ot_api_token is None:
        out("OT_API_TOKEN is not set.")
        return 2
    async with OpenTrainClient(
        settings.ot_api_base_url,
        settings.ot_api_token.get_secret_value(),
        timeout=settings.ot_timeout_seconds,
    ) as client:
        try:
            match args.webhook_command:
                case "register":
                    created = await client.create_webhook(args.url, EVENT_TYPES)
                    out(f"Created webhook {created.webhook.id} → {created.webhook.url}")
                    out("Its signing secret is shown once; set it where the bot runs:")
                    out(f"  OT_WEBHOOK_SECRET={created.secret.get_secret_value()}")
                case "list":
                    hooks = await client.list_webhooks()
                    if not hooks:
                        out("No webhook subscriptions.")
                    for hook in hooks:
                        reason = f" ({hook.disabled_reason})" if hook.disabled_reason else ""
                        events = ", ".join(hook.event_types)
                        out(f"{hook.id}  {hook.status}{reason}  {hook.url}  [{events}]")
                case "delete":
                    deleted = await client.delete_webhook(args.webhook_id)
                    out(f"Deleted webhook {deleted.id} ({deleted.url}).")
        except OpenTrainUnavailable as exc:
            # Registering and deleting are not repeated once sent: OpenTrain may have done
            # either before its answer was lost, and a second registration is a second
            # subscription (whose secret would be lost with this answer).
            out(f"OpenTrain did not answer: {exc}")
            if args.webhook_command != "list":
                out("It may have done it anyway: check `python -m bot webhooks list` first.")
            return 1
        except OpenTrainError as exc:
            out(f"OpenTrain refused: {exc}")
            return 1
    return 0
