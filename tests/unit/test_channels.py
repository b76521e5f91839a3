"""The one membership rule (bot/channels.py): what a channel's `conversations.info` means."""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels import INVITE, Access, judge


@pytest.mark.parametrize(
    ("info", "error", "access", "problem"),
    [
        ({"name": "hiring", "is_member": True}, None, Access.MEMBER, None),
        ({"name": "general", "is_member": False}, None, Access.JOINABLE, None),
        (
            {"name": "old", "is_archived": True, "is_member": True},
            None,
            Access.REFUSED,
            "#old is archived",
        ),
        (
            {"name": "secret", "is_private": True, "is_member": False},
            None,
            Access.REFUSED,
            f"#secret is private and I am not in it. Someone in it must invite me: {INVITE}",
        ),
        ({"name": "secret", "is_private": True, "is_member": True}, None, Access.MEMBER, None),
        ({"is_im": True}, None, Access.DIRECT, None),
        (None, "channel_not_found", Access.REFUSED, INVITE),
        (None, "missing_scope", Access.REFUSED, "(missing_scope)"),
    ],
)
def test_the_rule(
    info: dict[str, Any] | None, error: str | None, access: Access, problem: str | None
) -> None:
    check = judge("C0X", info, error)
    assert check.access is access
    assert check.usable is (access is not Access.REFUSED)
    if problem is None:
        assert check.problem is None
    else:
        assert check.problem is not None and problem in check.problem
        assert check.error


def test_a_channel_is_shown_by_name_when_slack_named_it() -> None:
    assert judge("C0X", {"name": "hiring", "is_member": True}).shown == "#hiring"
    assert judge("C0X", None, "channel_not_found").shown == "C0X"
