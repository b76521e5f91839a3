"""What every card is sent as (`bot/cards/message.py`): `SlackMessage`."""

from __future__ import annotations

from typing import Any

import pytest

from bot import cards
from bot.cards import SlackMessage


def test_as_kwargs_omits_metadata_when_there_is_none() -> None:
    assert set(cards.notice("hi").as_kwargs()) == {"text", "blocks"}


def test_slack_message_refuses_what_slack_would_reject() -> None:
    with pytest.raises(ValueError, match="fallback text"):
        SlackMessage(text="", blocks=[])
    with pytest.raises(ValueError, match="50 blocks"):
        SlackMessage(text="x", blocks=blocks_of(51))


def blocks_of(count: int) -> list[Any]:
    return cards.notice("x").blocks * count
