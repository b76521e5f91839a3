"""Private answers shared by listeners: one rendering of errors, receipts and progress.

A person always gets words: what happened, or what went wrong and what to do.
Expected failures (bad input, OpenTrain's refusals, access) are explained;
anything else is logged with its traceback and answered with one generic
sentence, so no stack trace or internal message ever reaches Slack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import cards
from bot.cosign import CoSignOutcome
from bot.explain import NotPossible, explain
from bot.logs import log_kv
from bot.opentrain import OpenTrainError
from bot.parsing import UsageError
from bot.roles import AccessDenied, Actor
from bot.services import Services
from bot.tracked_approvals import Requester

log = logging.getLogger(__name__)

T = TypeVar("T")

# Failures a person can act on; everything else is a bug and is logged in full.
EXPECTED = (UsageError, OpenTrainError, NotPossible, AccessDenied)
# Work that answers within this long gets no progress message: a note followed at once by
# its answer would only flicker (and a modal submission's note cannot be replaced).
PROGRESS_AFTER_SECONDS = 1.0


def error_message(
    error: BaseException, *, hire_anyway_value: str | None = None
) -> cards.SlackMessage:
    """The reply for `error`; logs it (with traceback when unexpected)."""
    if isinstance(error, EXPECTED):
        log.info("request refused %s", log_kv(error=type(error).__name__, detail=str(error)))
    else:
        log.error("listener failed", exc_info=error)
    explanation = explain(error)
    return cards.explanation_message(
        explanation, hire_anyway_value=hire_anyway_value if explanation.hire_anyway else None
    )


async def deliver_receipt(
    send: Callable[[cards.SlackMessage], Awaitable[None]],
    services: Services,
    outcome: CoSignOutcome,
) -> None:
    """Send the receipt of a request that already reached OpenTrain — best effort.

    The card is posted (or queued) and the approval tracked whatever happens here: a
    receipt the person cannot get (a Slack Connect user, a deactivated one, the store
    gone mid-way) is logged at INFO, never turned into a failed request.
    """
    try:
        await send(receipt(services, outcome))
    except Exception as exc:
        log.info(
            "receipt not delivered %s",
            log_kv(approval_id=outcome.approval.approval_id, error=type(exc).__name__),
        )


def receipt(
    services: Services, outcome: CoSignOutcome, *, created: bool | None = None
) -> cards.SlackMessage:
    """What the requester sees once a co-sign request reached OpenTrain.

    `created` overrides whether the card is new (a pasted link knows better than
    its outcome, which another event of the same paste may have adopted first).
    """
    return cards.cosign_receipt(
        outcome.approval,
        created=outcome.created if created is None else created,
        channel_id=outcome.card.channel_id,
        permalink=outcome.card.permalink,
        error=outcome.card.error,
        now=services.clock.now(),
        opentrain_host=services.settings.opentrain_host,
    )


def progress(text: str) -> cards.SlackMessage:
    return cards.notice(f"⏳ {text}")


@dataclass
class Replier:
    """Answers one interaction through its `response_url`.

    `replace` answers in place of the message the person acted on: the command's
    "Asking OpenTrain…" line, or the private message whose button was clicked (so
    the button cannot be clicked twice). A click on a public card never replaces
    it: the answer is a new private message. Messages go out one at a time, and a
    progress note never follows an answer (it would take the answer's place).
    """

    respond: AsyncRespond
    replace: bool
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _answered: bool = field(default=False, repr=False)

    async def send(self, message: cards.SlackMessage) -> None:
        async with self._turn:
            self._answered = True
            await self._post(message)

    async def progress(self, text: str) -> None:
        """Show that slow work started, where the answer will replace it."""
        if self.replace:
            async with self._turn:
                if not self._answered:
                    await self._post(progress(text))

    async def note_if_slow(self, text: str, work: Awaitable[T]) -> T:
        """Await `work` (which sends its own answer); if no answer came within
        PROGRESS_AFTER_SECONDS, show `text` as a progress note for the answer to replace."""

        async def note_later() -> None:
            await asyncio.sleep(PROGRESS_AFTER_SECONDS)
            try:
                await self.progress(text)
            except Exception:  # a courtesy: failing to show it must not lose the answer
                log.warning("progress note not shown", exc_info=True)

        noting = asyncio.create_task(note_later())
        try:
            return await work
        finally:
            noting.cancel()

    async def error(self, error: BaseException) -> None:
        await self.send(error_message(error))

    async def guard(self, work: Awaitable[None]) -> None:
        """Run `work`; any failure becomes the one clear reply instead of a silent 500."""
        try:
            await work
        except Exception as exc:
            await self.error(exc)

    async def _post(self, message: cards.SlackMessage) -> None:
        response = await self.respond(
            **message.as_kwargs(), response_type="ephemeral", replace_original=self.replace
        )
        if response.status_code != 200:
            log.warning(
                "reply not delivered %s", log_kv(status=response.status_code, body=response.body)
            )


@dataclass(frozen=True)
class Asked:
    """Who ran a command, where, and how to answer them."""

    user_id: str
    channel_id: str
    trigger_id: str
    reply: Replier
    team_id: str | None = None  # the user's own team, when the payload says it (a click)

    @property
    def requester(self) -> Requester:
        return Requester(kind="slack", id=self.user_id)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.team_id)


async def with_progress(work: Awaitable[T], show: Callable[[], Awaitable[Any]]) -> T:
    """Await `work`, calling `show` once if it takes longer than PROGRESS_AFTER_SECONDS."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=PROGRESS_AFTER_SECONDS)
    if not done:
        try:
            await show()
        except Exception:
            # Progress is a courtesy: failing to show it must not lose the work's result.
            log.warning("progress message not shown", exc_info=True)
    return await task
