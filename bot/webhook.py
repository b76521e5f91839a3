"""`POST /opentrain/webhook`: signed OpenTrain deliveries ring the tracker's doorbell.

A delivery only says "something changed": the receiver verifies its signature
over the raw bytes (5-minute tolerance on the bot's clock), drops repeats of a
delivery id, answers 2xx at once and asks for an immediate `/updates` poll.
The payload itself is never read as state — the feed is the ledger, so a lost,
repeated or forged-but-valid-looking delivery can at most cause an extra poll.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from aiohttp import web

from bot.agent_http import Refused, read_body
from bot.agent_models import error_body
from bot.logs import log_kv
from bot.metrics import WebhookResult, webhook_signature_result
from bot.opentrain.webhooks import WebhookSignatureError, verify
from bot.scheduler import FEED_JOB
from bot.services import Services
from bot.store import StoreUnavailable

log = logging.getLogger(__name__)

PATH = "/opentrain/webhook"
MAX_BODY_BYTES = 64 * 1024  # one event record (ids only) is well under 1 KiB
DELIVERY_TTL = timedelta(hours=24)  # OpenTrain's retries end ~2.5 h after the first attempt
MAX_DELIVERY_ID = 200


def install(app: web.Application, services: Services) -> None:
    """Add the webhook route to the bot's aiohttp application."""

    async def receive(request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        count = services.metrics.webhook_delivery
        # Read per request: without OT_WEBHOOK_SECRET the route does not exist.
        secret = services.settings.ot_webhook_secret
        if secret is None:
            count(WebhookResult.NOT_CONFIGURED)
            return _error(404, "NOT_FOUND", "No webhook receiver is configured.", request_id)
        delivery = request.headers.get("X-OpenTrain-Delivery", "")
        try:
            body = await read_body(request, MAX_BODY_BYTES)
        except Refused as refused:
            count(WebhookResult.MALFORMED)
            return _error(refused.status, refused.code, refused.message, request_id)
        try:
            verify(
                secret.get_secret_value(),
                request.headers.get("X-OpenTrain-Signature", ""),
                body,
                services.clock.now().timestamp(),
            )
        except WebhookSignatureError as exc:
            log.warning(
                "webhook delivery refused %s",
                log_kv(reason=exc.reason, delivery=delivery[:MAX_DELIVERY_ID] or "-"),
            )
            count(webhook_signature_result(exc.reason))
            return _error(400, "BAD_REQUEST", f"Signature rejected: {exc.reason}.", request_id)
        if len(delivery) > MAX_DELIVERY_ID:
            count(WebhookResult.MALFORMED)
            return _error(400, "BAD_REQUEST", "X-OpenTrain-Delivery is too long.", request_id)
        # A delivery without an id cannot be deduplicated; ringing twice is harmless.
        if delivery:
            try:
                first = await services.store.claim_key(f"webhook-delivery:{delivery}", DELIVERY_TTL)
            except StoreUnavailable:
                # 5xx makes OpenTrain retry later, when the store (and a poll) can work again.
                count(WebhookResult.UNAVAILABLE)
                return _error(503, "UNAVAILABLE", "The bot's store is unavailable.", request_id)
            if not first:
                log.info("webhook delivery repeated %s", log_kv(delivery=delivery))
                count(WebhookResult.DUPLICATE)
                return web.json_response({"ok": True, "duplicate": True})
        services.scheduler.kick(FEED_JOB)
        count(WebhookResult.ACCEPTED)
        log.info(
            "webhook delivery accepted %s",
            log_kv(delivery=delivery or "-", event=request.headers.get("X-OpenTrain-Event", "-")),
        )
        return web.json_response({"ok": True, "duplicate": False})

    app.router.add_post(PATH, receive)


def _error(status: int, code: str, message: str, request_id: str) -> web.Response:
    return web.json_response(
        error_body(message, code, request_id),
        status=status,
        headers={"X-Request-Id": request_id},
    )
