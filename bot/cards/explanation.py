"""The one rendering of every error for Slack: what went wrong and what to do about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    PlainTextObject,
    SectionBlock,
)

from bot.cards import facts
from bot.cards.ids import ActionId
from bot.cards.layout import confirm_dialog
from bot.cards.links import safe_link
from bot.cards.message import SlackMessage
from bot.cards.text import (
    BUTTON_VALUE,
    CONTEXT_ELEMENT,
    FALLBACK_TEXT,
    clip,
    clip_mrkdwn,
    code,
    esc,
    fallback,
    mention,
    mrkdwn,
)

if TYPE_CHECKING:
    # Only the type: at runtime cards stay free of explain's imports (roles → store).
    from bot.explain import Explanation

DEFAULT_LINK_LABEL = "Open in OpenTrain"

_HIRE_ANYWAY_CONFIRM = confirm_dialog(
    "Hire anyway?",
    (
        "This proposal was marked “Not a fit” in review. The same terms are sent again with "
        "the override, and a human still confirms the hire in OpenTrain."
    ),
    "Hire anyway",
    danger=True,
)


def explanation_message(
    explanation: Explanation, *, hire_anyway_value: str | None = None
) -> SlackMessage:
    """An `Explanation` as an ephemeral reply, with its link and the "Hire anyway" offer.

    The text is our mrkdwn (backticks, asterisks) but may quote what someone
    typed, so `& < >` are escaped: a typed `<!channel>` shows, it never pings.
    The link may be on any https host because it comes from OpenTrain's own
    error body (claim page, billing), never from a person or an agent.
    """
    # Ids from our own settings, never typed text: safe to render as mentions.
    who_can = " ".join(", ".join(mention(who) for who in explanation.who_can).split())
    text = f"⚠️ {esc(explanation.text, multiline=True)}"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f"{text} {who_can}".rstrip()))]
    buttons: list[ButtonElement] = []
    url = safe_link(explanation.link_url)
    if url is not None:
        label = explanation.link_label or DEFAULT_LINK_LABEL
        buttons.append(facts.link_button(label, url, ActionId.OPEN_LINK))
    if hire_anyway_value:
        buttons.append(
            ButtonElement(
                text=PlainTextObject(text="Hire anyway", emoji=True),
                action_id=ActionId.HIRE_ANYWAY,
                value=clip(hire_anyway_value, BUTTON_VALUE),
                style="danger",
                confirm=_HIRE_ANYWAY_CONFIRM,
            )
        )
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    if explanation.request_id:
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(f"OpenTrain request id: {code(explanation.request_id)}", CONTEXT_ELEMENT)
                ]
            )
        )
    notification = f"{fallback(explanation.text)} {who_can}".rstrip()
    return SlackMessage(text=clip_mrkdwn(notification, FALLBACK_TEXT), blocks=blocks)
