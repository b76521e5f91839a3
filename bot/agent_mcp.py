"""The agents' MCP door: an MCP server at `/mcp` on the bot's port (streamable HTTP), built
with the official `mcp` SDK.

Its tools mirror the agent HTTP API and go through the same desk (`bot/agent_desk.py`):
the same bearer tokens, spend policy, rate limits, validation, audit and answers. A
request without a valid token is refused before the SDK sees it, exactly as the HTTP
API refuses it (401, or 429 for an address that keeps guessing). A refusal comes back
as an MCP tool error whose text is the API's error envelope (`code`, `details.reason`,
e.g. `payment_method_required` with its `billingUrl`).

Stateless: every POST stands alone (no MCP session to pin to a replica), so any replica
can answer any call; `wait_for_outcome` streams progress on its own response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from aiohttp import web
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, Field, ValidationError

from bot import asgi_bridge
from bot.agent_api import AgentApi
from bot.agent_desk import AgentDesk, Answer
from bot.agent_http import Refused, authenticate, invalid_body, read_body
from bot.agent_models import (
    ApprovalResponse,
    EndRequest,
    HandOverRequest,
    HireRequest,
    MilestoneRequest,
    PolicyRequestResponse,
    RequestModel,
    ValidationContext,
    error_body,
)
from bot.logs import log_kv
from bot.metrics import ACCEPTED, agent_result
from bot.services import Services

log = logging.getLogger(__name__)

PATH = "/mcp"
BODY_LIMIT = 256 * 1024  # JSON-RPC messages; the agent API's bodies are far smaller
MAX_WAIT_SECONDS = 300
WAIT_SLICE_SECONDS = 10.0  # progress is reported between slices
NEVER_MOVES_MONEY = (
    " Nothing happens on this call alone: OpenTrain answers with an approval that a signed-in "
    "human must confirm at its approvalUrl (within about 72 hours), and this bot never moves "
    "money itself; it posts the approval card in Slack and reports the outcome."
)

Channel = Annotated[
    str | None, Field(description="Slack channel id for the card (default: the routes).")
]
Note = Annotated[str | None, Field(description="Why the agent asks; shown on the card.")]
CallbackUrl = Annotated[
    str | None,
    Field(description="https URL the bot POSTs the signed outcome to when the approval ends."),
]


class MilestoneTerms(BaseModel):
    """The first milestone of a hire (validated like the HTTP API's `milestone`)."""

    name: str
    description: str = ""
    amount: Annotated[
        str | int,
        Field(description='USD as a string like "450.50" (exact cents) or a whole number.'),
    ]
    dueDate: Annotated[str | None, Field(description="YYYY-MM-DD, today or later.")] = None


@dataclass(frozen=True)
class CardFields:
    """What every request may add: where the card goes, why, and where the outcome is sent."""

    channel: str | None
    note: str | None
    callback_url: str | None

    def wire(self) -> dict[str, str | None]:
        return {"channel": self.channel, "note": self.note, "callbackUrl": self.callback_url}


class Pending(BaseModel):
    """`list_pending`'s answer: this agent's pending approvals, as `get_approval` shows each."""

    approvals: list[ApprovalResponse]


Tool = Callable[..., Awaitable[Any]]
B = TypeVar("B", bound=RequestModel)
T = TypeVar("T")


class McpDoor:
    """The tools, each: who is asking (their verified token) → the desk → its answer."""

    def __init__(self, services: Services, desk: AgentDesk) -> None:
        self._services = services
        self._desk = desk

    def server(self) -> MCPServer:
        mcp: MCPServer = MCPServer(
            name="opentrain-cosign",
            instructions=(
                "Request OpenTrain money moves (hire, fund, payout, end a contract) that a human "
                "confirms in OpenTrain, follow them, and wait for their outcome."
                + NEVER_MOVES_MONEY
            ),
        )
        for name, tool, description in self._tools():
            mcp.add_tool(tool, name=name, description=description + NEVER_MOVES_MONEY)
        return mcp

    def _tools(self) -> list[tuple[str, Tool, str]]:
        return [
            ("request_hire", self.request_hire, "Hire a freelancer from a proposal."),
            ("request_fund", self.request_fund, "Fund a milestone into escrow."),
            ("request_payout", self.request_payout, "Release a funded milestone's payout."),
            ("request_end", self.request_end, "End a contract (co-signed when it holds escrow)."),
            (
                "hand_over_approval",
                self.hand_over_approval,
                "Hand over an approval the agent created in OpenTrain itself, for its card.",
            ),
            ("get_approval", self.get_approval, "An approval's current state and card."),
            ("list_pending", self.list_pending, "This agent's approvals still pending."),
            (
                "get_request",
                self.get_request,
                "A request over the agent's spend limits, waiting for an admin in Slack: "
                "awaiting, allowed (with its approval), refused or expired.",
            ),
            (
                "wait_for_outcome",
                self.wait_for_outcome,
                "Wait until an approval ends (confirmed, declined, expired…) or the timeout "
                "passes; returns its state then, with progress notifications meanwhile.",
            ),
        ]

    # --- tools ------------------------------------------------------------------------
    async def request_hire(
        self,
        proposalId: str,
        milestone: MilestoneTerms,
        ctx: Context,
        confirmNotFitOverride: bool = False,
        channel: Channel = None,
        note: Note = None,
        callbackUrl: CallbackUrl = None,
    ) -> dict[str, Any]:
        card = CardFields(channel, note, callbackUrl)
        return await self._request(
            ctx,
            "request_hire",
            self._desk.hire,
            HireRequest,
            {
                "proposalId": proposalId,
                "milestone": milestone.model_dump(exclude_none=True),
                "confirmNotFitOverride": confirmNotFitOverride,
            },
            card,
        )

    async def request_fund(
        self,
        milestoneId: str,
        ctx: Context,
        channel: Channel = None,
        note: Note = None,
        callbackUrl: CallbackUrl = None,
    ) -> dict[str, Any]:
        card = CardFields(channel, note, callbackUrl)
        return await self._request(
            ctx,
            "request_fund",
            self._desk.fund,
            MilestoneRequest,
            {"milestoneId": milestoneId},
            card,
        )

    async def request_payout(
        self,
        milestoneId: str,
        ctx: Context,
        channel: Channel = None,
        note: Note = None,
        callbackUrl: CallbackUrl = None,
    ) -> dict[str, Any]:
        card = CardFields(channel, note, callbackUrl)
        return await self._request(
            ctx,
            "request_payout",
            self._desk.payout,
            MilestoneRequest,
            {"milestoneId": milestoneId},
            card,
        )

    async def request_end(
        self,
        contractId: str,
        ctx: Context,
        channel: Channel = None,
        note: Note = None,
        callbackUrl: CallbackUrl = None,
    ) -> dict[str, Any]:
        card = CardFields(channel, note, callbackUrl)
        return await self._request(
            ctx, "request_end", self._desk.end, EndRequest, {"contractId": contractId}, card
        )

    async def hand_over_approval(
        self,
        approvalId: str,
        ctx: Context,
        channel: Channel = None,
        note: Note = None,
        callbackUrl: CallbackUrl = None,
    ) -> dict[str, Any]:
        card = CardFields(channel, note, callbackUrl)
        return await self._request(
            ctx,
            "hand_over_approval",
            self._desk.hand_over,
            HandOverRequest,
            {"approvalId": approvalId},
            card,
        )

    async def get_approval(self, approvalId: str, ctx: Context) -> ApprovalResponse:
        async def work(agent: str) -> ApprovalResponse:
            return _approval(await self._desk.approval(approvalId))

        return await self._run(ctx, "get_approval", work)

    async def get_request(self, requestId: str, ctx: Context) -> PolicyRequestResponse:
        async def work(agent: str) -> PolicyRequestResponse:
            answer = await self._desk.policy_request(agent, requestId)
            assert isinstance(answer.body, PolicyRequestResponse)
            return answer.body

        return await self._run(ctx, "get_request", work)

    async def list_pending(self, ctx: Context) -> Pending:
        async def work(agent: str) -> Pending:
            return Pending(approvals=await self._desk.pending(agent))

        return await self._run(ctx, "list_pending", work)

    async def wait_for_outcome(
        self,
        approvalId: str,
        ctx: Context,
        timeoutSeconds: Annotated[
            float, Field(ge=0, le=MAX_WAIT_SECONDS, description="At most 300.")
        ] = 60,
    ) -> ApprovalResponse:
        async def work(agent: str) -> ApprovalResponse:
            tracked = await self._desk.tracked(approvalId)
            waited = 0.0
            while not tracked.status.is_terminal and waited < timeoutSeconds:
                # Progress every 10 s, and at least four times in a shorter wait.
                step = min(WAIT_SLICE_SECONDS, timeoutSeconds / 4, timeoutSeconds - waited)
                found = await self._services.waits.wait(approvalId, step)
                tracked = found or tracked
                waited += step
                if not tracked.status.is_terminal and waited < timeoutSeconds:
                    await ctx.report_progress(
                        waited, timeoutSeconds, f"still {tracked.status.value} after {waited:g} s"
                    )
            return _approval(await self._desk.approval(approvalId))

        return await self._run(ctx, "wait_for_outcome", work)

    # --- plumbing -----------------------------------------------------------------------
    async def _request(
        self,
        ctx: Context,
        tool: str,
        submit: Callable[[str, B], Awaitable[Answer]],
        model: type[B],
        data: dict[str, Any],
        card: CardFields,
    ) -> dict[str, Any]:
        """Validate `data` exactly as the HTTP API validates its body, then submit it."""
        given = data | {key: value for key, value in card.wire().items() if value is not None}
        context = ValidationContext(
            today=self._services.clock.now().date(),
            max_amount=self._services.settings.max_amount_usd,
        )

        async def work(agent: str) -> Answer:
            try:
                body = model.model_validate(given, context=context)
            except ValidationError as exc:
                raise invalid_body(exc) from None
            return await submit(agent, body)

        return await self._answer(ctx, tool, work)

    async def _answer(
        self, ctx: Context, tool: str, work: Callable[[str], Awaitable[Answer]]
    ) -> dict[str, Any]:
        async def body(agent: str) -> dict[str, Any]:
            answer = await work(agent)
            return answer.body.model_dump(mode="json", by_alias=True)

        return await self._run(ctx, tool, body)

    async def _run(self, ctx: Context, tool: str, work: Callable[[str], Awaitable[T]]) -> T:
        """Run one tool for the agent whose token the request carries; a refusal as a tool
        error carrying the API's envelope (audited like the HTTP API's)."""
        request_id = str(uuid.uuid4())
        agent = authenticate((ctx.headers or {}).get("authorization"), self._tokens)
        if agent is None:  # the door refused it already; here only if called otherwise
            raise ToolError(json.dumps(error_body("Unauthenticated.", "UNAUTHORIZED", request_id)))
        try:
            result = await work(agent)
        except Exception as exc:
            refused = self._desk.refusal_of(exc, request_id)
            self._services.metrics.agent_request(
                agent, agent_result(refused.status, refused.code, refused.details)
            )
            await self._desk.audit_refusal(
                agent, refused, door="mcp", request_id=request_id, tool=tool
            )
            envelope = error_body(refused.message, refused.code, request_id, refused.details)
            raise ToolError(json.dumps(envelope | {"status": refused.status})) from None
        self._services.metrics.agent_request(agent, ACCEPTED)
        log.info("agent request %s", log_kv(agent=agent, door="mcp", tool=tool))
        return result

    @property
    def _tokens(self) -> Any:
        return self._services.settings.agent_tokens


def _approval(answer: Answer) -> ApprovalResponse:
    assert isinstance(answer.body, ApprovalResponse)
    return answer.body


class McpEndpoint:
    """The MCP server's transport at /mcp, behind the agent API's authentication.

    The SDK's task group lives in one task of its own (aiohttp answers requests and cleans
    up in different tasks; an anyio scope cannot span them), from `start` to `stop`.
    """

    def __init__(self, services: Services, api: AgentApi) -> None:
        mcp = McpDoor(services, AgentDesk(services)).server()
        mcp.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            # Bearer tokens authenticate every request, so a rebinding page gains nothing:
            # the Host header check would only refuse the bot's own public name.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self._manager = mcp.session_manager
        self._api = api
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        started = asyncio.Event()

        async def serve_sessions() -> None:
            async with self._manager.run():
                started.set()
                await self._stop.wait()

        self._task = asyncio.create_task(serve_sessions())
        await started.wait()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refused = await self._api.admit(request)
        if refused is not None:
            return refused
        try:
            body = await read_body(request, BODY_LIMIT)
        except Refused as too_big:
            return await self._api.refuse(request, None, str(uuid.uuid4()), too_big)
        return await asgi_bridge.serve(request, self._manager.handle_request, body)
