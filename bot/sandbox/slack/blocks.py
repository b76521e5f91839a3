"""Block Kit validation: why Slack would answer `invalid_blocks` (messages) or
`invalid_arguments` (views), in Slack's own `response_metadata.messages` style.

Two layers. Slack's documented limits are checked here with precise JSON
pointers (the ones our cards are most likely to hit). Then every block goes
through `slack_sdk.models.blocks` (`Block.parse` + `to_dict()`, which runs
`validate_json()` on the block and everything nested in it), and the parsed
result is compared with the input: a field the SDK dropped is one Slack does
not know, and a string where the SDK built an object is one Slack rejects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from bot.sandbox.slack.interactions import VIEW_FIELDS
from bot.sandbox.slack.model import JsonDict

MESSAGE_MAX_BLOCKS = 50
SURFACE_MAX_BLOCKS = 100  # modals and Home tabs
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTIONS_ELEMENTS_MAX = 25
INPUT_LABEL_MAX = 2000
URL_MAX = 3000
ID_MAX = 255  # action_id, block_id, callback_id, external_id
MODAL_TITLE_MAX = 24  # also submit and close
PRIVATE_METADATA_MAX = 3000

_LENGTH_LIMITED_KEYS = {
    "url": URL_MAX,
    "image_url": URL_MAX,
    "action_id": ID_MAX,
    "block_id": ID_MAX,
}


@dataclass(frozen=True)
class Problem:
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"[ERROR] {self.message} [json-pointer:{self.pointer}]"


def message_block_problems(blocks: Any) -> list[Problem]:
    return _blocks_problems(blocks, "/blocks", MESSAGE_MAX_BLOCKS)


def view_problems(view: Any, *, allowed_types: Collection[str]) -> list[Problem]:
    if not isinstance(view, dict):
        return [Problem("/view", "must provide an object")]
    view_type = view.get("type")
    if view_type not in allowed_types:
        return [Problem("/view/type", f"must be one of: {', '.join(sorted(allowed_types))}")]
    problems: list[Problem] = []
    blocks = view.get("blocks")
    if view_type == "modal":
        if "title" not in view:
            problems.append(Problem("/view/title", "missing required field: title"))
        for key in ("title", "submit", "close"):
            if key in view:
                _text_object(view[key], MODAL_TITLE_MAX, f"/view/{key}", problems, plain=True)
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and "submit" not in view:
            problems.append(
                Problem("/view", "must provide a submit property when an input block is present")
            )
    elif "submit" in view or "close" in view:
        problems.append(Problem("/view", "a home view cannot have submit or close"))
    if blocks is None:
        problems.append(Problem("/view/blocks", "missing required field: blocks"))
    else:
        problems.extend(_blocks_problems(blocks, "/view/blocks", SURFACE_MAX_BLOCKS))
    _max_length(
        view.get("private_metadata"), PRIVATE_METADATA_MAX, "/view/private_metadata", problems
    )
    _max_length(view.get("callback_id"), ID_MAX, "/view/callback_id", problems)
    _max_length(view.get("external_id"), ID_MAX, "/view/external_id", problems)
    return problems


class InvalidBlocks(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.messages = [str(problem) for problem in problems]


def prepare_message_blocks(blocks: Any, new_block_id: Callable[[], str]) -> list[JsonDict]:
    """Validated message blocks as Slack stores them, or `InvalidBlocks`."""
    problems = message_block_problems(blocks)
    if problems or not isinstance(blocks, list):
        raise InvalidBlocks(problems)
    return _with_block_ids(blocks, new_block_id)


def prepare_view(
    view: Any, *, allowed_types: Collection[str], new_block_id: Callable[[], str]
) -> JsonDict:
    """The app-supplied fields of a validated view as Slack stores them, or `InvalidBlocks`."""
    problems = view_problems(view, allowed_types=allowed_types)
    if problems or not isinstance(view, dict):
        raise InvalidBlocks(problems)
    content = {key: view[key] for key in VIEW_FIELDS if key in view}
    content["blocks"] = _with_block_ids(view["blocks"], new_block_id)
    return content


def _with_block_ids(blocks: list[JsonDict], new_block_id: Callable[[], str]) -> list[JsonDict]:
    # Slack stores a generated `block_id` on every block that came without one.
    return [
        block if "block_id" in block else {**block, "block_id": new_block_id()} for block in blocks
    ]


def _blocks_problems(blocks: Any, root: str, max_blocks: int) -> list[Problem]:
    if not isinstance(blocks, list):
        return [Problem(root, "must provide an array")]
    problems: list[Problem] = []
    if len(blocks) > max_blocks:
        problems.append(Problem(root, f"no more than {max_blocks} items allowed"))
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"{root}/{index}"
        if not isinstance(block, dict):
            problems.append(Problem(pointer, "must provide an object"))
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                problems.append(Problem(f"{pointer}/block_id", "must be unique in the message"))
            seen_block_ids.add(block_id)
        problems.extend(_block_problems(block, pointer))
    return problems


def _block_problems(block: dict[str, Any], pointer: str) -> list[Problem]:
    block_type = block.get("type")
    if not isinstance(block_type, str):
        return [Problem(f"{pointer}/type", "missing required field: type")]
    problems: list[Problem] = []
    _length_limited_keys(block, pointer, problems)
    _documented_limits(block_type, block, pointer, problems)
    # The SDK's messages are vaguer than ours; only ask it when ours found nothing.
    return problems or _sdk_problems(block_type, block, pointer)


def _documented_limits(
    block_type: str, block: dict[str, Any], pointer: str, problems: list[Problem]
) -> None:
    if block_type == "section":
        _text_object(block.get("text"), SECTION_TEXT_MAX, f"{pointer}/text", problems)
        fields = block.get("fields")
        if isinstance(fields, list):
            if len(fields) > SECTION_FIELDS_MAX:
                problems.append(
                    Problem(f"{pointer}/fields", f"no more than {SECTION_FIELDS_MAX} items allowed")
                )
            for index, item in enumerate(fields):
                _text_object(item, SECTION_FIELD_TEXT_MAX, f"{pointer}/fields/{index}", problems)
        if isinstance(block.get("accessory"), dict):
            _element(block["accessory"], f"{pointer}/accessory", problems)
    elif block_type == "header":
        _text_object(block.get("text"), HEADER_TEXT_MAX, f"{pointer}/text", problems, plain=True)
    elif block_type == "actions":
        elements = block.get("elements")
        if isinstance(elements, list):
            if len(elements) > ACTIONS_ELEMENTS_MAX:
                problems.append(
                    Problem(
                        f"{pointer}/elements", f"no more than {ACTIONS_ELEMENTS_MAX} items allowed"
                    )
                )
            action_ids: set[str] = set()
            for index, element in enumerate(elements):
                element_pointer = f"{pointer}/elements/{index}"
                _element(element, element_pointer, problems)
                action_id = element.get("action_id") if isinstance(element, dict) else None
                if isinstance(action_id, str):
                    if action_id in action_ids:
                        problems.append(
                            Problem(f"{element_pointer}/action_id", "must be unique in the block")
                        )
                    action_ids.add(action_id)
    elif block_type == "input":
        _text_object(block.get("label"), INPUT_LABEL_MAX, f"{pointer}/label", problems, plain=True)
        _text_object(block.get("hint"), INPUT_LABEL_MAX, f"{pointer}/hint", problems, plain=True)
        if isinstance(block.get("element"), dict):
            _element(block["element"], f"{pointer}/element", problems)


def _element(element: Any, pointer: str, problems: list[Problem]) -> None:
    if not isinstance(element, dict):
        problems.append(Problem(pointer, "must provide an object"))
        return
    if element.get("type") == "button":
        if "text" not in element:
            problems.append(Problem(f"{pointer}/text", "missing required field: text"))
        _text_object(element.get("text"), BUTTON_TEXT_MAX, f"{pointer}/text", problems, plain=True)
        _max_length(element.get("value"), BUTTON_VALUE_MAX, f"{pointer}/value", problems)


def _text_object(
    value: Any, limit: int, pointer: str, problems: list[Problem], *, plain: bool = False
) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems.append(Problem(pointer, "must provide an object"))
        return
    allowed = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if value.get("type") not in allowed:
        problems.append(Problem(f"{pointer}/type", f"must be one of: {', '.join(allowed)}"))
    text = value.get("text")
    if not isinstance(text, str):
        problems.append(Problem(f"{pointer}/text", "must provide a string"))
    elif not text:
        problems.append(Problem(f"{pointer}/text", "must be more than 0 characters"))
    else:
        _max_length(text, limit, f"{pointer}/text", problems)


def _max_length(value: Any, limit: int, pointer: str, problems: list[Problem]) -> None:
    if isinstance(value, str) and len(value) > limit:
        problems.append(Problem(pointer, f"must be less than {limit + 1} characters"))


def _length_limited_keys(node: Any, pointer: str, problems: list[Problem]) -> None:
    """URLs and ids are limited wherever they appear in a block."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{pointer}/{key}"
            if key in _LENGTH_LIMITED_KEYS:
                _max_length(value, _LENGTH_LIMITED_KEYS[key], child, problems)
            _length_limited_keys(value, child, problems)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _length_limited_keys(value, f"{pointer}/{index}", problems)


def _sdk_problems(block_type: str, block: dict[str, Any], pointer: str) -> list[Problem]:
    try:
        parsed = Block.parse(dict(block))
        if parsed is None:
            return [Problem(f"{pointer}/type", f"unsupported type: {block_type}")]
        normalized = parsed.to_dict()
    except SlackObjectFormationError as exc:
        return [Problem(pointer, str(exc))]
    except TypeError as exc:
        # The SDK's constructors name the missing keyword: "missing 1 required … 'text'".
        missing = re.findall(r"'(\w+)'", str(exc)) if "missing" in str(exc) else []
        if missing:
            return [Problem(pointer, f"missing required field: {name}") for name in missing]
        return [Problem(pointer, "failed to match all allowed schemas")]
    except (AttributeError, KeyError, ValueError):
        return [Problem(pointer, "failed to match all allowed schemas")]
    return _shape_problems(block, normalized, pointer)


def _shape_problems(raw: Any, normalized: Any, pointer: str) -> list[Problem]:
    if isinstance(raw, dict):
        if normalized is None:
            return [Problem(f"{pointer}/type", f"unsupported type: {raw.get('type')}")]
        if not isinstance(normalized, dict):
            return [Problem(pointer, "failed to match all allowed schemas")]
        problems: list[Problem] = []
        for key, value in raw.items():
            child = f"{pointer}/{key}"
            if value is None:
                continue
            if key not in normalized:
                if isinstance(value, list | dict) and not value:
                    problems.append(Problem(child, "must provide at least 1 item"))
                elif value == "":
                    problems.append(Problem(child, "must be more than 0 characters"))
                else:
                    problems.append(Problem(child, "is not a valid property"))
                continue
            problems.extend(_shape_problems(value, normalized[key], child))
        return problems
    if isinstance(raw, list):
        if not isinstance(normalized, list) or len(normalized) != len(raw):
            return []
        return [
            problem
            for index, (item, parsed) in enumerate(zip(raw, normalized, strict=True))
            for problem in _shape_problems(item, parsed, f"{pointer}/{index}")
        ]
    if isinstance(normalized, dict):
        # The SDK turns a bare string into a text object; Slack's API does not.
        return [Problem(pointer, "must provide an object")]
    return []
