"""Slack text as the viewer renders it: mrkdwn's corner cases and emoji shortcodes, on the
renderer directly."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.slack.viewer.markup import Names, mrkdwn_html, text_html

NAMES = Names(viewer_id="U0ANA", tz=ZoneInfo("UTC"), now=datetime.now(UTC))


@pytest.mark.parametrize(
    ("mrkdwn", "html"),
    [
        (
            "ids like job_dash_cam and 2*3*4 stay plain",
            "ids like job_dash_cam and 2*3*4 stay plain",
        ),
        ("*a* and _b_ and ~c~", "<b>a</b> and <i>b</i> and <s>c</s>"),
        ("`*not bold* <@U0BEN>`", "<code>*not bold* &lt;@U0BEN&gt;</code>"),
        ("```a\n*b*```", "<pre>a\n*b*</pre>"),
        ("&gt; quoted\nnext", "<blockquote>quoted</blockquote>next"),
        ("<mailto:a@example.com|mail>", '<a href="mailto:a@example.com" target="_blank"'),
        ("<data:text/html,x|x>", "x"),
        ("<!here> <!channel>", '<span class="mention">@here</span> <span class="mention">@chan'),
        ("a\ue0000\ue001b", "a0b"),  # our placeholders cannot be smuggled in
        (":white_check_mark: *Confirmed* :tada::tada:", "✅ <b>Confirmed</b> 🎉🎉"),
        ("⏳ 10:30:45 :not_an_emoji: :Tada:", "⏳ 10:30:45 :not_an_emoji: :Tada:"),
        (
            "`:x:` <https://example.com/:x:|:x:>",
            '<code>:x:</code> <a href="https://example.com/:x:"',
        ),
    ],
)
def test_mrkdwn_edge_cases(mrkdwn: str, html: str) -> None:
    assert mrkdwn_html(mrkdwn, NAMES).startswith(html)


def test_plain_text_shows_emoji_unless_it_says_not_to() -> None:
    assert text_html({"type": "plain_text", "text": ":checkered_flag: Ended"}, NAMES) == "🏁 Ended"
    escaped = {"type": "plain_text", "text": ":checkered_flag: <b>", "emoji": False}
    assert text_html(escaped, NAMES) == ":checkered_flag: &lt;b&gt;"
