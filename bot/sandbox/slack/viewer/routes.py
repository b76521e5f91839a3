"""HTTP side of the viewer: the page and its assets, message permalinks (which open the page on
their message), screens, a change stream, closing modals.

Everything a person does in the page (commands, clicks, submissions, posts) goes
through the simulator's existing driver endpoints (`/_sim/command`, `/_sim/action`,
`/_sim/view_submission`, `/_sim/messages`, `/_sim/app_home_opened`); only what
the driver has no endpoint for lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
from importlib.resources import files
from typing import Any

from aiohttp import web

from bot.sandbox.slack.errors import SimUsageError
from bot.sandbox.slack.permalinks import parse_permalink
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.viewer.reads import ReadMarks
from bot.sandbox.slack.viewer.screen import ScreenRequest, build_screen

# The page loads nothing but itself: no inline script, no external assets. Even if some
# text slipped through unescaped, the browser would refuse to run it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSET_TYPES = {
    "viewer.js": "text/javascript",
    "modal.js": "text/javascript",
    "viewer.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
# Every answer is fresh state (the assets are tiny), and the policy rides along on each.
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# An idle stream still sends a comment now and then, so a closed tab is noticed.
KEEPALIVE_S = 15.0


class Viewer:
    def __init__(self, state: SlackState) -> None:
        self._state = state
        self._reads = ReadMarks(state)
        static = files(__package__) / "static"
        self._page = (static / "index.html").read_text(encoding="utf-8")
        self._assets = {name: (static / name).read_text(encoding="utf-8") for name in _ASSET_TYPES}
        self._closing = asyncio.Event()

    def install(self, app: web.Application) -> None:
        app.add_routes(
            [
                web.get("/", self.page),
                web.get("/archives/{channel}/{message}", self.permalink),
                web.get("/viewer/static/{name}", self.asset),
                web.get("/viewer/screen", self.screen),
                web.get("/viewer/events", self.events),
                web.post("/viewer/close_view", self.close_view),
            ]
        )
        app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, _: web.Application) -> None:
        # Open event streams would otherwise hold the server's graceful shutdown.
        self._closing.set()

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=self._page, content_type="text/html", headers=HEADERS)

    async def permalink(self, request: web.Request) -> web.Response:
        """A message's permalink (`chat.getPermalink`) opens the page on that message; a
        `user` in the query (the page adds who is acting) keeps that person."""
        link = parse_permalink(str(request.rel_url))
        if link is None:
            raise web.HTTPNotFound(text="not a message link", headers=HEADERS)
        screen = ScreenRequest.for_link(link, user_id=request.query.get("user") or None)
        raise web.HTTPFound(screen.url(), headers=HEADERS)

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._assets:
            raise web.HTTPNotFound()
        return web.Response(
            text=self._assets[name], content_type=_ASSET_TYPES[name], headers=HEADERS
        )

    async def screen(self, request: web.Request) -> web.Response:
        try:
            screen = build_screen(self._state, ScreenRequest.from_query(request.query), self._reads)
        except LookupError as exc:
            raise SimUsageError(str(exc)) from None
        return web.json_response(screen, headers=HEADERS)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the change sequence now, then again each time it moves."""
        response = web.StreamResponse(headers={**HEADERS, "Content-Type": "text/event-stream"})
        await response.prepare(request)
        feed = self._state.feed
        sent = -1
        # A tab that went away shows up as a failed write.
        with contextlib.suppress(ConnectionResetError):
            await response.write(b"retry: 1000\n\n")
            while not self._closing.is_set():
                if feed.seq != sent:
                    sent = feed.seq
                    await response.write(f"data: {sent}\n\n".encode())
                else:
                    await response.write(b": idle\n\n")
                await self._next_change(sent)
        return response

    async def _next_change(self, after: int) -> None:
        changed = asyncio.ensure_future(self._state.feed.wait_after(after, KEEPALIVE_S))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({changed, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            closing.cancel()

    async def close_view(self, request: web.Request) -> web.Response:
        """The person dismisses a modal (× or Cancel): the whole stack closes, as in Slack."""
        body = await _json_object(request)
        user_id, view_id = str(body.get("user_id", "")), str(body.get("view_id", ""))
        view = self._state.views.get(view_id)
        if view is None or view.closed or view.user_id != user_id or view.type != "modal":
            raise SimUsageError(f"{user_id} has no open modal {view_id}")
        for open_view in self._state.modal_stack(user_id):
            self._state.close_view(open_view)
        return web.json_response({"ok": True})


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise SimUsageError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise SimUsageError("the body must be a JSON object")
    return body
