"""`python -m bot mcp --stdio`: the bot's MCP tools for agents that launch MCP servers as a
subprocess.

It holds no state and no OpenTrain token: it speaks MCP on stdin/stdout and passes every
`tools/list` and `tools/call` on to a running bot's `/mcp` (`COSIGN_URL`), with the agent's
token (`COSIGN_AGENT_TOKEN`), relaying the bot's progress notifications while a tool
waits. So the policy, limits, audit and answers are the bot's, whichever way an agent
connects.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared._httpx_utils import create_mcp_http_client

URL_VARIABLE = "COSIGN_URL"
TOKEN_VARIABLE = "COSIGN_AGENT_TOKEN"  # noqa: S105 - the variable's name, not a token


@asynccontextmanager
async def bot_client(url: str, token: str) -> AsyncIterator[Client]:
    """An MCP client of the bot's `/mcp`, as the agent whose token this is."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    transport = streamable_http_client(f"{url.rstrip('/')}/mcp", http_client=http)
    async with http, Client(transport) as client:
        yield client


def relay(remote: Client) -> Server[Any]:
    """A server whose tools are the bot's, each call passed on."""

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return await remote.list_tools(cursor=params.cursor if params else None)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        async def progress(progress: float, total: float | None, message: str | None) -> None:
            await ctx.session.report_progress(progress, total, message)

        return await remote.call_tool(
            params.name, params.arguments or {}, progress_callback=progress
        )

    return Server("opentrain-cosign", on_list_tools=list_tools, on_call_tool=call_tool)


async def run_stdio(environ: dict[str, str] | None = None) -> int:
    """Serve on stdin/stdout until the client closes them; 2 when not configured."""
    env = os.environ if environ is None else environ
    url, token = env.get(URL_VARIABLE, ""), env.get(TOKEN_VARIABLE, "")
    if not url or not token:
        print(f"Set {URL_VARIABLE} (the bot's URL) and {TOKEN_VARIABLE}.", file=sys.stderr)
        return 2
    async with bot_client(url, token) as remote, stdio_server() as (read, write):
        server = relay(remote)
        await server.run(read, write, server.create_initialization_options())
    return 0
