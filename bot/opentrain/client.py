"""Typed async client for OpenTrain's Public API (opentrain-api.md), httpx underneath.

Retries follow OpenTrain's idempotency rules (§0.1, §7.3): reads and the
co-sign requests (hire, fund, approve, end) may be repeated safely — OpenTrain
hands back the same pending approval — so they retry on 429, 502 / 503 / 504,
dropped connections and timeouts; co-sign requests also on a 500, which may come
after OpenTrain acted.
Direct writes (milestone create, messages, webhooks) only retry when the request
provably never left.

After a 429 that says how long to wait, no request of this client leaves before
that time: a call made meanwhile waits (within its retry budget) or fails at
once with `RateLimited`, without asking.

A 403 naming a missing scope is checked against `/auth/me`: an unclaimed
account's tokens hold only the pre-claim scopes (§2.2), so for such an account
the error becomes `account_claim_required` — claiming is the fix, not a new token.

Every attempt is told to `observe` (the bot's metrics, passed in by its composition root).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import SecretStr

from bot.opentrain.account import (
    AuthMe,
    Capabilities,
    Credits,
    Message,
    MessageSent,
    MessagesPage,
    PendingPayment,
    Webhook,
    WebhookCreated,
)
from bot.opentrain.answers import api_path, decode, field, model_of, models_of
from bot.opentrain.errors import (
    Forbidden,
    OpenTrainError,
    OpenTrainUnavailable,
    RateLimited,
    error_from_response,
)
from bot.opentrain.models import (
    Approval,
    ApprovalRequested,
    Contract,
    ContractEnded,
    HireTerms,
    Interview,
    Milestone,
    MyJobsPage,
    Proposal,
    ProposalsPage,
    UpdatesPage,
)
from bot.opentrain.wire import (
    JsonValue,
    json_body,
)

API_PREFIX = "/api/public/v1"
USER_AGENT = "opentrain-cosign-bot"
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})  # reads: as the official CLI (§5.4)
# How long what /auth/me says about the claim is trusted (a human may claim any time).
CLAIM_CHECK_TTL = 60.0

logger = logging.getLogger("bot.opentrain")


# Told of every attempt: the path under API_PREFIX, and the HTTP status (None: no answer).
CallObserver = Callable[[str, int | None], None]


class _Retry(Enum):
    SAFE = "safe"  # a repeat cannot do anything twice
    UNSENT_ONLY = "unsent_only"  # only when the request never reached OpenTrain


# The request never left: no connection, or no free connection in the pool.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class OpenTrainClient:
    """One OpenTrain account, one token; every call returns a model or raises OpenTrainError."""

    def __init__(
        self,
        base_url: str,
        token: SecretStr | str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 4,
        retry_budget_seconds: float = 30.0,
        backoff_base: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: CallObserver | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._observe = observe or (lambda path, status: None)
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self._max_attempts = max(1, max_attempts)
        self._retry_budget = retry_budget_seconds
        self._backoff_base = backoff_base
        self._quiet_until = 0.0  # monotonic time before which OpenTrain asked for no request
        self._quiet_request_id: str | None = None  # the 429 that asked for it
        self._claim_check: tuple[float, bool] | None = None  # (when, claimed)
        self._http = httpx.AsyncClient(
            base_url=self._base_url + API_PREFIX,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )

    def __repr__(self) -> str:
        return f"OpenTrainClient(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- account ------------------------------------------------------------------

    async def auth_me(self) -> AuthMe:
        return model_of(AuthMe, await self._call("GET", "/auth/me"))

    async def capabilities(self) -> Capabilities:
        return model_of(Capabilities, await self._call("GET", "/job-drafts/capabilities"))

    async def credits(self) -> Credits:
        return model_of(Credits, field(await self._call("GET", "/credits"), "credits"))

    async def pending_payments(self) -> list[PendingPayment]:
        payload = await self._call("GET", "/payments/pending")
        return models_of(PendingPayment, field(payload, "payments"))

    # --- jobs, proposals and contracts ---------------------------------------------

    async def list_my_jobs(
        self, status: str | None = None, cursor: str | None = None, limit: int = 25
    ) -> MyJobsPage:
        """The account's jobs, drafts included, newest first (`status`: OpenTrain's, e.g. OPEN)."""
        params = {"status": status, "cursor": cursor, "limit": limit}
        return model_of(MyJobsPage, await self._call("GET", "/jobs/mine", params=params))

    async def get_proposal(self, proposal_id: str) -> Proposal:
        payload = await self._call("GET", api_path("proposals", proposal_id))
        return model_of(Proposal, field(payload, "proposal"))

    async def list_proposals(
        self, job_id: str, *, status: str | None = None, cursor: str | None = None, limit: int = 25
    ) -> ProposalsPage:
        params = {"status": status, "cursor": cursor, "limit": limit}
        path = api_path("jobs", job_id, "proposals")
        return model_of(ProposalsPage, await self._call("GET", path, params=params))

    async def get_interview(self, proposal_id: str) -> Interview:
        payload = await self._call("GET", api_path("proposals", proposal_id, "interview"))
        return model_of(Interview, field(payload, "interview"))

    async def hire(self, proposal_id: str, terms: HireTerms) -> ApprovalRequested:
        # Built once so every retry resends identical bytes: changed terms would
        # supersede the approval a human may already be looking at.
        body = terms.request_body()
        payload = await self._call(
            "POST", api_path("proposals", proposal_id, "hire"), body=body, retry=_Retry.SAFE
        )
        return model_of(ApprovalRequested, payload)

    async def list_contracts(
        self, *, status: str | None = None, job_id: str | None = None
    ) -> list[Contract]:
        payload = await self._call("GET", "/contracts", params={"status": status, "jobId": job_id})
        return models_of(Contract, field(payload, "contracts"))

    async def get_contract(self, contract_id: str) -> Contract:
        payload = await self._call("GET", api_path("contracts", contract_id))
        return model_of(Contract, field(payload, "contract"))

    async def end_contract(self, contract_id: str) -> ContractEnded | ApprovalRequested:
        """200 when nothing is funded (ended now); 202 with an approval when escrow is at stake."""
        payload = await self._call(
            "POST", api_path("contracts", contract_id, "end"), retry=_Retry.SAFE
        )
        if isinstance(payload, dict) and "approval" in payload:
            return model_of(ApprovalRequested, payload)
        return model_of(ContractEnded, payload)

    # --- milestones ---------------------------------------------------------------

    async def create_milestone(
        self,
        contract_id: str,
        *,
        description: str,
        name: str | None = None,
        amount_usd: Decimal | None = None,
        volume: Decimal | None = None,
        due_date: date | None = None,
    ) -> Milestone:
        """A direct write (no co-sign, no money moves): retried only if it never left."""
        fields: dict[str, JsonValue] = {
            "name": name,
            "description": description,
            "amountUsd": amount_usd,
            "volume": volume,
            "dueDate": due_date.isoformat() if due_date else None,
        }
        body = json_body({key: value for key, value in fields.items() if value is not None})
        payload = await self._call(
            "POST",
            api_path("contracts", contract_id, "milestones"),
            body=body,
            retry=_Retry.UNSENT_ONLY,
        )
        return model_of(Milestone, field(payload, "milestone"))

    async def fund_milestone(self, milestone_id: str) -> ApprovalRequested:
        payload = await self._call(
            "POST", api_path("milestones", milestone_id, "fund"), retry=_Retry.SAFE
        )
        return model_of(ApprovalRequested, payload)

    async def approve_milestone(self, milestone_id: str) -> ApprovalRequested:
        """Request the payout of a funded milestone (co-signed)."""
        payload = await self._call(
            "POST", api_path("milestones", milestone_id, "approve"), retry=_Retry.SAFE
        )
        return model_of(ApprovalRequested, payload)

    # --- approvals and the /updates feed ------------------------------------------

    async def get_approval(self, approval_id: str) -> Approval:
        payload = await self._call("GET", api_path("approvals", approval_id))
        return model_of(Approval, field(payload, "approval"))

    async def poll_updates(self, cursor: str | None = None, limit: int = 200) -> UpdatesPage:
        payload = await self._call("GET", "/updates", params={"cursor": cursor, "limit": limit})
        return model_of(UpdatesPage, payload)

    async def iter_updates(
        self, cursor: str | None = None, limit: int = 200
    ) -> AsyncIterator[UpdatesPage]:
        """Pages from `cursor` on, following `hasMore`; persist each page's cursor as you go."""
        while True:
            page = await self.poll_updates(cursor, limit)
            yield page
            # A cursor that does not move would loop forever; treat it as the end.
            if not page.has_more or page.next_cursor in (None, cursor):
                return
            cursor = page.next_cursor

    # --- webhooks -----------------------------------------------------------------

    async def create_webhook(self, url: str, event_types: Sequence[str]) -> WebhookCreated:
        body = json_body({"url": url, "eventTypes": list(event_types)})
        payload = await self._call("POST", "/webhooks", body=body, retry=_Retry.UNSENT_ONLY)
        return model_of(WebhookCreated, payload)

    async def list_webhooks(self) -> list[Webhook]:
        return models_of(Webhook, field(await self._call("GET", "/webhooks"), "webhooks"))

    async def delete_webhook(self, webhook_id: str) -> Webhook:
        payload = await self._call(
            "DELETE", api_path("webhooks", webhook_id), retry=_Retry.UNSENT_ONLY
        )
        return model_of(Webhook, field(payload, "webhook"))

    # --- messages -----------------------------------------------------------------

    async def list_messages(
        self,
        *,
        conversation_id: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
        direction: str | None = None,
    ) -> MessagesPage:
        """Conversation summaries, or with `conversation_id` the messages in that conversation."""
        params = {
            "conversationId": conversation_id,
            "cursor": cursor,
            "limit": limit,
            "direction": direction,
        }
        return model_of(MessagesPage, await self._call("GET", "/messages", params=params))

    async def send_message(self, conversation_id: str, content: str) -> Message:
        body = json_body({"conversationId": conversation_id, "content": content})
        payload = await self._call("POST", "/messages", body=body, retry=_Retry.UNSENT_ONLY)
        return model_of(MessageSent, payload).message

    # --- transport ----------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int | None] | None = None,
        body: bytes | None = None,
        retry: _Retry = _Retry.SAFE,
    ) -> Any:
        """The decoded JSON of a 2xx answer, after the retries `retry` allows."""
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        query = {key: str(value) for key, value in (params or {}).items() if value is not None}
        deadline = time.monotonic() + self._retry_budget
        attempt = 0
        while True:
            attempt += 1
            await self._wait_quiet(deadline)
            try:
                response = await self._http.request(
                    method, path, params=query, content=body, headers=headers
                )
            except httpx.TransportError as exc:
                self._observe(path, None)
                retryable = _UNSENT if retry is _Retry.UNSENT_ONLY else _TRANSIENT
                delay = self._delay(attempt, deadline) if isinstance(exc, retryable) else None
                if delay is None:
                    raise OpenTrainUnavailable(_unreachable(exc, attempt)) from exc
                _log_retry(method, path, attempt, type(exc).__name__, delay, None)
                await asyncio.sleep(delay)
                continue
            self._observe(path, response.status_code)
            if response.is_success:
                return decode(response)
            error = error_from_response(response.status_code, response.text, response.headers)
            error.path = path
            if isinstance(error, RateLimited) and error.retry_after_seconds is not None:
                until = time.monotonic() + error.retry_after_seconds
                if until > self._quiet_until:
                    self._quiet_until, self._quiet_request_id = until, error.request_id
            if isinstance(error, Forbidden) and error.required_scopes and path != "/auth/me":
                raise await self._claim_first(error)
            if retry is _Retry.UNSENT_ONLY or response.status_code not in _retryable(method):
                raise error
            # When the server asks for more time than the budget has left, give up
            # now: the error carries retry_after_seconds so the caller can say when.
            delay = self._delay(attempt, deadline, asked=error.retry_after_seconds)
            if delay is None:
                raise error
            _log_retry(method, path, attempt, f"http_{response.status_code}", delay, error)
            await asyncio.sleep(delay)

    async def _wait_quiet(self, deadline: float) -> None:
        """Wait out OpenTrain's last Retry-After, or fail now if the budget cannot."""
        wait = self._quiet_until - time.monotonic()
        if wait <= 0:
            return
        if wait > deadline - time.monotonic():
            raise RateLimited(
                "OpenTrain asked the bot to wait before its next request",
                status=429,
                code="RATE_LIMITED",
                request_id=self._quiet_request_id,
                retry_after_header=wait,
            )
        await asyncio.sleep(wait)

    async def _claim_first(self, error: Forbidden) -> Forbidden:
        """`error` (a missing scope), or the claim it really means for an unclaimed account."""
        now = time.monotonic()
        if self._claim_check is None or now - self._claim_check[0] > CLAIM_CHECK_TTL:
            try:
                claimed = (await self.auth_me()).claimed
            except OpenTrainError:
                return error  # cannot tell: the scope error is still true
            self._claim_check = (now, claimed)
        if self._claim_check[1]:
            return error
        # derived: the claim page's address, as OpenTrain's own claimUrl gives it (§1.3).
        claim = Forbidden(
            "The OpenTrain account is not claimed by a human yet; claim it before it can "
            "hire or move money",
            status=403,
            code="FORBIDDEN",
            request_id=error.request_id,
            details={
                **error.details,
                "reason": "account_claim_required",
                "claimUrl": f"{self._base_url}/claim",
            },
        )
        claim.path = error.path
        return claim

    def _delay(self, attempt: int, deadline: float, asked: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when no retry is left."""
        remaining = deadline - time.monotonic()
        if attempt >= self._max_attempts or remaining <= 0:
            return None
        if asked is not None:
            return asked if asked <= remaining else None
        backoff = self._backoff_base * 2.0 ** (attempt - 1)
        jitter = random.uniform(0, backoff / 10)  # noqa: S311 — spreads retries, not a secret
        return min(backoff + jitter, remaining)


def _retryable(method: str) -> frozenset[int]:
    """A 500 on a co-sign request may come after OpenTrain created the approval: asking
    again returns it. A read's 500 is OpenTrain failing, which asking again won't fix."""
    return RETRYABLE_STATUSES | {500} if method == "POST" else RETRYABLE_STATUSES


def _unreachable(exc: httpx.TransportError, attempts: int) -> str:
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    return f"OpenTrain {what} ({type(exc).__name__}, {tries})"


def _log_retry(
    method: str, path: str, attempt: int, cause: str, delay: float, error: OpenTrainError | None
) -> None:
    logger.info(
        "opentrain_retry method=%s path=%s attempt=%d cause=%s delay_s=%.3f request_id=%s",
        method,
        path,
        attempt,
        cause,
        delay,
        error.request_id if error else None,
    )
