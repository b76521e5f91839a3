"""The ids Slack hands back to the bot (`bot/cards/ids.py`) stay stable."""

from __future__ import annotations

from bot.cards import ActionId


def test_new_action_ids_are_stable() -> None:
    assert ActionId.OPEN_CONTRACT.value == "open-contract"
    assert ActionId.REQUEST_PAYOUT.value == "request-payout"
    assert ActionId.END_CONTRACT.value == "end-contract"
    assert ActionId.OPEN_LINK.value == "open-link"
    assert ActionId.OPEN_JOB_PROPOSALS.value == "open-job-proposals"
