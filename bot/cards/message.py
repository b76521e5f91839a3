"""What every builder returns for chat.postMessage / chat.update / chat.postEphemeral."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.metadata import Metadata

from bot.cards.text import FALLBACK_TEXT, MAX_BLOCKS, utf16_len


@dataclass(frozen=True)
class SlackMessage:
    text: str  # fallback for notifications and screen readers; already escaped
    blocks: list[Block]
    metadata: Metadata | None = None

    def __post_init__(self) -> None:
        # Builders keep to these limits; failing here beats a Slack `invalid_blocks` later.
        if not self.text or utf16_len(self.text) > FALLBACK_TEXT:
            raise ValueError(f"fallback text must be 1–{FALLBACK_TEXT} characters")
        if len(self.blocks) > MAX_BLOCKS:
            raise ValueError(f"a message holds at most {MAX_BLOCKS} blocks")

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.update / chat.postEphemeral."""
        kwargs: dict[str, Any] = {
            "text": self.text,
            "blocks": [block.to_dict() for block in self.blocks],
        }
        if self.metadata is not None:
            kwargs["metadata"] = self.metadata.to_dict()
        return kwargs


def metadata(event_type: str, **payload: Any) -> Metadata:
    return Metadata(event_type=event_type, event_payload=payload)
