"""Slack ids are told from words: Slack's `COMPOSER` placeholder is no channel."""

from __future__ import annotations

import pytest

from bot.parsing import parse_channel
from bot.slack_ids import is_channel_id, is_conversation_id


@pytest.mark.parametrize("value", ["C024BE91L", "G0HIRING", "C0GENERAL", "CQ1"])
def test_channel_ids(value: str) -> None:
    assert is_channel_id(value) and is_conversation_id(value)


@pytest.mark.parametrize(
    "value", ["COMPOSER", "CHANNEL", "GENERAL", "c024be91l", "D0ABC123", "U0ANA", "C", "C0" * 12]
)
def test_words_dms_people_and_oversized_values_are_not_channels(value: str) -> None:
    assert not is_channel_id(value)


def test_a_dm_is_a_conversation_but_not_a_channel_for_cards() -> None:
    assert is_conversation_id("D0ABC123") and not is_channel_id("D0ABC123")
    assert not is_conversation_id("DIRECT")


def test_a_bare_word_is_not_taken_for_a_channel_in_a_command() -> None:
    assert parse_channel("COMPOSER") is None
    assert parse_channel("C0HIRING") == "C0HIRING"
    assert parse_channel("<#C0HIRING|hiring>") == "C0HIRING"
