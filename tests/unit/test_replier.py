"""A command's private answers go out one at a time, and a progress note never lands after the
answer it stands in for (it would take the answer's place)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot import cards
from handlers import replies
from handlers.replies import Replier


class Respond:
    """A response_url that records what it was sent, and can hold a post until released."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.posting = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, **message: Any) -> Any:
        self.posting.set()
        await self.release.wait()
        self.sent.append(message["text"])
        return type("Response", (), {"status_code": 200, "body": ""})()


@pytest.fixture(autouse=True)
def no_wait_for_the_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replies, "PROGRESS_AFTER_SECONDS", 0)


async def test_an_answer_before_the_note_is_due_goes_alone() -> None:
    respond = Respond()
    reply = Replier(respond, replace=True)  # type: ignore[arg-type]

    async def work() -> None:
        await reply.send(cards.notice("the answer"))

    await reply.note_if_slow("Asking OpenTrain…", work())
    assert respond.sent == ["the answer"]


async def test_slow_work_shows_the_note_first_and_the_answer_after() -> None:
    respond = Respond()
    reply = Replier(respond, replace=True)  # type: ignore[arg-type]

    async def work() -> None:
        await respond.posting.wait()  # the note is on its way
        await reply.send(cards.notice("the answer"))

    await reply.note_if_slow("Asking OpenTrain…", work())
    assert respond.sent == ["⏳ Asking OpenTrain…", "the answer"]


async def test_an_answer_ready_while_the_note_is_posting_waits_for_it() -> None:
    respond = Respond()
    respond.release.clear()  # the note's post hangs until released
    reply = Replier(respond, replace=True)  # type: ignore[arg-type]

    async def work() -> None:
        await respond.posting.wait()
        answering = asyncio.create_task(reply.send(cards.notice("the answer")))
        await asyncio.sleep(0)  # the answer queues behind the note
        respond.release.set()
        await answering

    await reply.note_if_slow("Asking OpenTrain…", work())
    assert respond.sent == ["⏳ Asking OpenTrain…", "the answer"]


async def test_no_note_after_an_answer() -> None:
    respond = Respond()
    reply = Replier(respond, replace=True)  # type: ignore[arg-type]
    await reply.send(cards.notice("the answer"))
    await reply.progress("Asking OpenTrain…")
    assert respond.sent == ["the answer"]
