"""Drives the bot the way Slack does: signed slash commands, clicks, submissions and events.

Each method builds what Slack would send for a user's action, delivers it
signed to the bot's URL (or as an envelope over Socket Mode while the app is
connected), applies what the answer means in Slack (a command's reply, a modal
closing or showing errors) and records the delivery.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from bot.sandbox.slack import payloads
from bot.sandbox.slack.answers import Rejected, apply_command_answer, apply_view_answer
from bot.sandbox.slack.config import SimConfig
from bot.sandbox.slack.errors import SimUsageError
from bot.sandbox.slack.interactions import Delivery, View
from bot.sandbox.slack.message_shapes import MessageShapes, channel_type
from bot.sandbox.slack.model import Channel, JsonDict, Message
from bot.sandbox.slack.people import User
from bot.sandbox.slack.socket_mode import EnvelopeType, SocketMode
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.transport import FORM, JSON, BotTransport, DeliveryResult

_ENVELOPE_TYPES = {"event_callback", "url_verification", "app_rate_limited"}


class Driver(MessageShapes):
    def __init__(
        self,
        state: SlackState,
        config: SimConfig,
        origin: Callable[[], str],
        socket_mode: SocketMode,
    ) -> None:
        self._state = state
        self._config = config
        self._origin = origin
        self._transport = BotTransport(config)
        self._socket_mode = socket_mode

    async def close(self) -> None:
        await self._transport.close()

    async def send_command(
        self, *, command: str, text: str, user_id: str, channel_id: str
    ) -> DeliveryResult:
        state = self._state
        self._active_user(user_id)
        channel = self._channel_of_member(channel_id, user_id)
        if not command.startswith("/"):
            raise SimUsageError("a slash command starts with '/'")
        response_url = state.issue_response_url("command", user_id=user_id, channel_id=channel.id)
        form = payloads.command_form(
            state,
            command=command,
            text=text,
            user_id=user_id,
            channel=channel,
            response_url=self._response_url(response_url.id),
            trigger_id=state.issue_trigger(user_id).id,
            verification_token=self._config.verification_token,
        )
        result = await self._deliver("slash_commands", form)
        try:
            response_url.ephemeral_ts = apply_command_answer(
                state,
                command=command,
                status=result.status,
                body=result.body,
                timed_out=result.timed_out,
                user_id=user_id,
                channel=channel,
            )
        except Rejected as exc:
            result = dataclasses.replace(result, rejected=exc.error)
        return self._record("command", f"{command} {text}".strip(), result)

    async def click(
        self,
        *,
        user_id: str,
        action_id: str,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        value: str | None = None,
        block_id: str | None = None,
        values: dict[str, dict[str, Any]] | None = None,
    ) -> DeliveryResult:
        """Click a button (or pick an option) on a message, an ephemeral message or a view, or
        dispatch what is typed into an input whose block has `dispatch_action`.

        `values` are what the view's inputs hold at that moment (as for `submit_view`); Slack
        sends them along as `view.state.values`.
        """
        state = self._state
        self._active_user(user_id)
        trigger_id = state.issue_trigger(user_id).id
        if view_id is not None:
            view = self._open_view(view_id, user_id)
            found_in, element = payloads.find_element(
                view.content.get("blocks", []), action_id, value, block_id
            )
            if values is not None:
                view.state_values = payloads.view_state_values(view, values, submitting=False)
            payload = payloads.block_actions(
                state,
                user_id=user_id,
                action=payloads.action_item(found_in, element, value, state.next_ts()),
                trigger_id=trigger_id,
                verification_token=self._config.verification_token,
                container={"type": "view", "view_id": view.id},
                view=view,
            )
        else:
            if channel_id is None or message_ts is None:
                raise SimUsageError("a click needs channel_id and message_ts, or view_id")
            if values is not None:
                raise SimUsageError("values are what a view's inputs hold; this is no view")
            payload = self._message_click(
                user_id, channel_id, message_ts, action_id, value, trigger_id, block_id
            )
        # Slack ignores what an app answers to block_actions beyond the status.
        result = await self._deliver("interactive", payload)
        return self._record("block_actions", action_id, result)

    async def submit_view(
        self, *, user_id: str, view_id: str, values: dict[str, dict[str, Any]]
    ) -> DeliveryResult:
        state = self._state
        self._active_user(user_id)
        view = self._open_view(view_id, user_id)
        if view.type != "modal" or not view.content.get("submit"):
            raise SimUsageError(f"view {view_id} has no submit button")
        view.state_values = payloads.view_state_values(view, values)
        payload = payloads.view_submission(
            state,
            user_id=user_id,
            view=view,
            trigger_id=state.issue_trigger(user_id).id,
            verification_token=self._config.verification_token,
        )
        callback_id = str(view.content.get("callback_id", ""))
        result = await self._deliver("interactive", payload)
        if result.ok:
            # Past three seconds Slack has already told the user it failed; the modal stays.
            try:
                action = apply_view_answer(state, view, result.body)
                result = dataclasses.replace(result, response_action=action)
            except Rejected as exc:
                answer = result.body if isinstance(result.body, dict) else {}
                result = dataclasses.replace(
                    result, response_action=answer.get("response_action"), rejected=exc.error
                )
        return self._record("view_submission", callback_id, result)

    async def send_event(
        self,
        event: JsonDict,
        *,
        event_id: str | None = None,
        retry_num: int = 0,
        retry_reason: str | None = None,
    ) -> DeliveryResult:
        """Deliver an Events API event (wrapped in an `event_callback` unless it is an envelope).

        A retry (`retry_num` ≥ 1) carries Slack's `X-Slack-Retry-Num`/`-Reason`
        headers (over Socket Mode, the envelope's `retry_attempt`/`retry_reason`);
        pass the first delivery's `event_id` to replay it exactly.
        """
        state = self._state
        if event.get("type") in _ENVELOPE_TYPES:
            envelope = event
        else:
            envelope = payloads.event_callback(
                state,
                event,
                event_id=event_id or state.new_id("Ev"),
                verification_token=self._config.verification_token,
            )
        inner = envelope.get("event")
        if not isinstance(inner, dict):
            inner = {}
        if inner.get("type") == "link_shared":
            urls = [str(link.get("url")) for link in inner.get("links", [])]
            state.offer_links(
                str(inner.get("channel")),
                str(inner.get("message_ts")),
                urls,
                unfurl_id=str(inner.get("unfurl_id") or "") or None,
            )
        result = await self._deliver(
            "events_api", envelope, retry_num=retry_num, retry_reason=retry_reason
        )
        summary = str(inner.get("type") or envelope.get("type"))
        return self._record("event", summary, result)

    async def verify_url(self) -> DeliveryResult:
        """Slack's Request URL check: the app must echo the challenge."""
        challenge = self._state.random_token(24)
        envelope = {
            "token": self._config.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        result = await self._transport.deliver(json.dumps(envelope).encode(), JSON)
        echoed = result.body.get("challenge") if isinstance(result.body, dict) else result.body
        if result.ok and echoed != challenge:
            result = dataclasses.replace(result, rejected="challenge_mismatch")
        return self._record("url_verification", "url_verification", result)

    async def post_user_message(
        self, *, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
    ) -> tuple[Message, list[DeliveryResult]]:
        """A person posts; the bot hears it if it is in the conversation, and gets
        `link_shared` for links to its unfurl domains."""
        state = self._state
        self._active_user(user_id)
        channel = self._channel_of_member(channel_id, user_id)
        if channel.is_archived:
            raise SimUsageError(f"#{channel.name} is archived")
        message = state.post(channel, user=user_id, text=text, thread_ts=thread_ts, source="user")
        results: list[DeliveryResult] = []
        if state.bot_user_id in channel.members:
            event: JsonDict = {
                "type": "message",
                "channel": channel.id,
                "user": user_id,
                "text": text,
                "ts": message.ts,
                "team": state.team_id,
                "channel_type": channel_type(channel),
                "event_ts": message.ts,
            }
            if message.thread_ts is not None:
                event["thread_ts"] = message.thread_ts
            results.append(await self.send_event(event))
        urls = self.unfurlable(text)
        if urls:
            results.append(await self._link_shared(user_id, channel, message, urls))
        return message, results

    async def share_link(self, *, user_id: str, channel_id: str, url: str) -> DeliveryResult:
        """A person posts `url`; the bot gets `link_shared` for it (whatever its domain)."""
        self._active_user(user_id)
        channel = self._channel_of_member(channel_id, user_id)
        message = self._state.post(channel, user=user_id, text=f"<{url}>", source="user")
        return await self._link_shared(user_id, channel, message, [url])

    async def open_home(self, user_id: str) -> DeliveryResult:
        """The user opens the app's Home tab."""
        state = self._state
        self._active_user(user_id)
        dm, _ = state.open_dm(user_id)
        event: JsonDict = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": dm.id,
            "tab": "home",
        }
        home = state.home_view(user_id)
        if home is not None:
            event["view"] = home.to_slack(
                team_id=state.team_id, app_id=state.app_id, bot_id=state.bot_id
            )
        return await self.send_event(event)

    # ---- helpers -----------------------------------------------------------------------

    async def _deliver(
        self,
        kind: EnvelopeType,
        payload: JsonDict,
        *,
        retry_num: int = 0,
        retry_reason: str | None = None,
    ) -> DeliveryResult:
        """Over the app's Socket Mode connection when it has one, else signed over HTTP."""
        if self._socket_mode.connected:
            return await self._socket_mode.deliver(
                kind, payload, retry_attempt=retry_num, retry_reason=retry_reason
            )
        headers: dict[str, str] = {}
        if kind == "slash_commands":
            body, content_type = urlencode(payload).encode(), FORM
        elif kind == "interactive":
            body, content_type = urlencode({"payload": json.dumps(payload)}).encode(), FORM
        else:
            body, content_type = json.dumps(payload).encode(), JSON
            if retry_num:
                headers = {
                    "X-Slack-Retry-Num": str(retry_num),
                    "X-Slack-Retry-Reason": retry_reason or "http_timeout",
                }
        return await self._transport.deliver(body, content_type, headers)

    async def _link_shared(
        self, user_id: str, channel: Channel, message: Message, urls: list[str]
    ) -> DeliveryResult:
        event: JsonDict = {
            "type": "link_shared",
            "channel": channel.id,
            "is_bot_user_member": self._state.bot_user_id in channel.members,
            "user": user_id,
            "message_ts": message.ts,
            "unfurl_id": f"{user_id}-{message.ts}",
            "source": "conversations_history",
            "links": [{"domain": urlsplit(url).hostname, "url": url} for url in urls],
        }
        if message.thread_ts is not None:
            event["thread_ts"] = message.thread_ts
        return await self.send_event(event)

    def _message_click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None,
        trigger_id: str,
        block_id: str | None,
    ) -> JsonDict:
        state = self._state
        channel = self._visible_channel(channel_id, user_id)
        container: JsonDict = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel.id,
        }
        message = state.find_message(channel.id, message_ts)
        if message is not None:
            blocks = message.blocks
            container["is_ephemeral"] = False
            if message.is_reply:
                container["thread_ts"] = message.thread_ts
            response_url = state.issue_response_url(
                "block_actions", user_id=user_id, channel_id=channel.id, message_ts=message.ts
            )
        else:
            ephemeral = state.find_ephemeral(user_id, message_ts)
            if ephemeral is None or ephemeral.channel != channel.id:
                raise SimUsageError(f"{user_id} sees no message {message_ts} in {channel.id}")
            blocks = ephemeral.blocks
            container["is_ephemeral"] = True
            response_url = state.issue_response_url(
                "block_actions", user_id=user_id, channel_id=channel.id, ephemeral_ts=ephemeral.ts
            )
        found_in, element = payloads.find_element(blocks, action_id, value, block_id)
        return payloads.block_actions(
            state,
            user_id=user_id,
            action=payloads.action_item(found_in, element, value, state.next_ts()),
            trigger_id=trigger_id,
            verification_token=self._config.verification_token,
            container=container,
            channel=channel,
            # Slack leaves the message out of payloads from ephemeral messages.
            message=message,
            response_url=self._response_url(response_url.id),
        )

    def _record(self, kind: str, summary: str, result: DeliveryResult) -> DeliveryResult:
        state = self._state
        state.record_delivery(
            Delivery(
                id=state.next_delivery_id(),
                kind=kind,
                summary=summary,
                status=result.status,
                body=result.body,
                elapsed_ms=result.elapsed_ms,
                timed_out=result.timed_out,
                error=result.error or result.rejected,
                response_action=result.response_action,
            )
        )
        return result

    def _response_url(self, response_url_id: str) -> str:
        return f"{self._origin()}/_sim/response/{response_url_id}"

    def _active_user(self, user_id: str) -> User:
        user = self._state.users.get(user_id)
        if user is None:
            raise SimUsageError(f"no user {user_id}")
        if user.deleted:
            raise SimUsageError(f"{user_id} is deactivated and cannot use Slack")
        return user

    def _visible_channel(self, channel_id: str, user_id: str) -> Channel:
        channel = self._state.channels.get(channel_id)
        if channel is None and channel_id == self._state.dm_id(user_id):
            # The app's Messages tab: a user can always write to the bot.
            channel, _ = self._state.open_dm(user_id)
        if channel is None:
            raise SimUsageError(f"no channel {channel_id}")
        # A member may read any public channel; guests and Slack Connect users see only
        # the conversations they are in, like everyone for private ones.
        user = self._state.users.get(user_id)
        outsider = user is not None and (
            user.is_restricted
            or user.is_ultra_restricted
            or user.home_team(self._state.team_id) != self._state.team_id
        )
        if (channel.is_private or outsider) and user_id not in channel.members:
            raise SimUsageError(f"{user_id} is not in {channel_id}")
        return channel

    def _channel_of_member(self, channel_id: str, user_id: str) -> Channel:
        channel = self._visible_channel(channel_id, user_id)
        if user_id not in channel.members:
            raise SimUsageError(f"{user_id} is not in {channel_id}")
        return channel

    def _open_view(self, view_id: str, user_id: str) -> View:
        view = self._state.views.get(view_id)
        if view is None or view.closed or view.user_id != user_id:
            raise SimUsageError(f"{user_id} has no open view {view_id}")
        return view
