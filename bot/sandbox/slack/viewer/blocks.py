"""Block Kit as HTML: message blocks, and the blocks of a view (modal or App Home) as a form.

Interactive elements carry `data-action-id` plus their target (`data-channel` +
`data-ts` for a message, `data-view-id` for a view); the page's script turns a
click into the simulator's `/_sim/action` call, as Slack's client would send
`block_actions`. Elements the simulator cannot act on are shown disabled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from bot.sandbox.slack.viewer.markup import (
    Names,
    attr,
    mrkdwn_html,
    plain_html,
    text_html,
    url_scheme,
)

JsonDict = dict[str, Any]

_BUTTON_STYLES = frozenset({"primary", "danger"})
_TEXT_INPUT_TYPES = {
    "plain_text_input": "text",
    "email_text_input": "email",
    "url_text_input": "url",
    "number_input": "number",
    "datepicker": "date",
    "timepicker": "time",
}
# The inputs whose typing Slack dispatches (`dispatch_action_config`); the viewer does not
# dispatch choices made in input blocks.
_DISPATCHING = frozenset({"plain_text_input", "email_text_input", "url_text_input", "number_input"})
_SELECTS = frozenset({"static_select", "users_select", "conversations_select", "channels_select"})
_MULTI_SELECTS = frozenset(
    {
        "multi_static_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)


@dataclass(frozen=True)
class Target:
    """Where a click on these blocks goes: a message (channel + ts), a view, or nowhere."""

    channel: str | None = None
    ts: str | None = None
    view_id: str | None = None

    @property
    def interactive(self) -> bool:
        return self.view_id is not None or (self.channel is not None and self.ts is not None)

    def attrs(self) -> str:
        if self.view_id is not None:
            return f'data-view-id="{attr(self.view_id)}"'
        return f'data-channel="{attr(self.channel or "")}" data-ts="{attr(self.ts or "")}"'


INERT = Target()


def blocks_html(
    blocks: Iterable[object], names: Names, target: Target, errors: JsonDict | None = None
) -> str:
    """`errors` (block_id → message) are a view's `response_action: errors`, shown under inputs."""
    return "".join(
        _block(block, names, target, errors or {}) for block in blocks if isinstance(block, dict)
    )


def attachments_html(attachments: Iterable[object], names: Names) -> str:
    """Legacy attachments and unfurls: their blocks, else title, text and fields. Never clickable
    through the simulator (Slack reports those clicks differently), but links still open."""
    parts = []
    for attachment in attachments:
        if not isinstance(attachment, dict):
            continue
        if attachment.get("blocks"):
            inner = blocks_html(attachment["blocks"], names, INERT)
        else:
            inner = _legacy_attachment(attachment, names)
        parts.append(f'<div class="attachment">{inner}</div>')
    return "".join(parts)


def _legacy_attachment(attachment: JsonDict, names: Names) -> str:
    parts = []
    title = str(attachment.get("title") or "")
    if title:
        link = _safe_url(attachment.get("title_link"))
        shown = plain_html(title)
        parts.append(
            f'<div class="attachment-title"><a href="{attr(link)}" target="_blank" '
            f'rel="noopener noreferrer">{shown}</a></div>'
            if link
            else f'<div class="attachment-title">{shown}</div>'
        )
    text = str(attachment.get("text") or attachment.get("fallback") or "")
    if text:
        parts.append(f'<div class="bk-text">{mrkdwn_html(text, names)}</div>')
    for fact in attachment.get("fields") or []:
        if isinstance(fact, dict):
            parts.append(
                f'<div class="bk-field"><b>{plain_html(str(fact.get("title", "")))}</b><br>'
                f"{mrkdwn_html(str(fact.get('value', '')), names)}</div>"
            )
    return "".join(parts)


def _block(block: JsonDict, names: Names, target: Target, errors: JsonDict) -> str:
    kind = str(block.get("type", ""))
    block_id = attr(block.get("block_id", ""))
    match kind:
        case "header":
            return f'<h3 class="bk-header">{text_html(block.get("text"), names)}</h3>'
        case "section":
            return _section(block, names, target)
        case "context":
            elements = "".join(
                _context_element(element, names)
                for element in block.get("elements", [])
                if isinstance(element, dict)
            )
            return f'<div class="bk-context" data-block-id="{block_id}">{elements}</div>'
        case "divider":
            return '<hr class="bk-divider">'
        case "actions":
            elements = "".join(
                _element(element, names, target)
                for element in block.get("elements", [])
                if isinstance(element, dict)
            )
            return f'<div class="bk-actions" data-block-id="{block_id}">{elements}</div>'
        case "input":
            return _input(block, names, errors)
        case "image":
            return f'<div class="bk-image">{_image_label(block)}</div>'
        case _:
            return f'<div class="bk-unsupported">[{plain_html(kind or "unknown")} block]</div>'


def _section(block: JsonDict, names: Names, target: Target) -> str:
    body = []
    if isinstance(block.get("text"), dict):
        body.append(f'<div class="bk-text">{text_html(block["text"], names)}</div>')
    fields = [f for f in block.get("fields") or [] if isinstance(f, dict)]
    if fields:
        cells = "".join(f'<div class="bk-field">{text_html(f, names)}</div>' for f in fields)
        body.append(f'<div class="bk-fields">{cells}</div>')
    accessory = block.get("accessory")
    side = (
        f'<div class="bk-accessory">{_element(accessory, names, target)}</div>'
        if isinstance(accessory, dict)
        else ""
    )
    block_id = attr(block.get("block_id", ""))
    return (
        f'<section class="bk-section" data-block-id="{block_id}">'
        f'<div class="bk-section-body">{"".join(body)}</div>{side}</section>'
    )


def _context_element(element: JsonDict, names: Names) -> str:
    if element.get("type") == "image":
        return f'<span class="bk-image">{_image_label(element)}</span>'
    return f"<span>{text_html(element, names)}</span>"


def _image_label(image: JsonDict) -> str:
    # Images are not fetched: the viewer loads nothing from outside the simulator.
    return f"[image: {plain_html(str(image.get('alt_text') or 'no description'))}]"


# --- interactive elements in messages, App Home and modals ---------------------------------


def _element(element: JsonDict, names: Names, target: Target) -> str:
    kind = str(element.get("type", ""))
    action_id = str(element.get("action_id", ""))
    common = f'data-action-id="{attr(action_id)}" {target.attrs()}'
    if kind == "button":
        return _button(element, names, target, common)
    if kind in ("static_select", "overflow"):
        disabled = "" if target.interactive else " disabled"
        options = "".join(_option(o, selected=False) for o in _options(element))
        placeholder = _placeholder(element, "Choose…" if kind == "static_select" else "⋯")
        return (
            f'<select class="bk-select" {common} data-testid="block-select"{disabled}>'
            f'<option value="">{placeholder}</option>{options}</select>'
        )
    if kind == "image":
        return f'<span class="bk-image">{_image_label(element)}</span>'
    return f'<span class="bk-unsupported">[{plain_html(kind or "unknown")}]</span>'


def _button(element: JsonDict, names: Names, target: Target, common: str) -> str:
    label = text_html(element.get("text"), names)
    style = str(element.get("style", ""))
    classes = "bk-button" + (f" bk-{style}" if style in _BUTTON_STYLES else "")
    extra = _confirm_attr(element.get("confirm"))
    if "value" in element:
        extra += f' data-value="{attr(element["value"])}"'
    url = _safe_url(element.get("url"))
    if url is not None:
        # Slack opens the link and also tells the app about the click (where it can).
        reported = f" {common}{extra}" if target.interactive else ""
        return (
            f'<a class="{classes}" href="{attr(url)}" target="_blank" rel="noopener noreferrer"'
            f'{reported} data-testid="link-button">{label}</a>'
        )
    disabled = "" if target.interactive else " disabled"
    return (
        f'<button type="button" class="{classes}" {common}{extra} '
        f'data-testid="block-button"{disabled}>{label}</button>'
    )


def _confirm_attr(confirm: object) -> str:
    """A button's confirmation dialog, asked with the browser's own `confirm()`."""
    if not isinstance(confirm, dict):
        return ""
    words = [
        str(part.get("text", ""))
        for part in (confirm.get("title"), confirm.get("text"))
        if isinstance(part, dict)
    ]
    return f' data-confirm="{attr(chr(10).join(w for w in words if w))}"'


def _safe_url(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    return url if url_scheme(url) in ("http", "https") else None


def _options(element: JsonDict) -> list[JsonDict]:
    options = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            options += [o for o in group.get("options") or [] if isinstance(o, dict)]
    return options


def _option(option: JsonDict, *, selected: bool) -> str:
    text = option.get("text")
    label = str(text.get("text", "")) if isinstance(text, dict) else ""
    chosen = " selected" if selected else ""
    return f'<option value="{attr(option.get("value", ""))}"{chosen}>{plain_html(label)}</option>'


def _placeholder(element: JsonDict, default: str) -> str:
    placeholder = element.get("placeholder")
    if isinstance(placeholder, dict):
        return plain_html(str(placeholder.get("text", default)))
    return plain_html(default)


# --- input blocks (views only) ---------------------------------------------------------------


def _input(block: JsonDict, names: Names, errors: JsonDict) -> str:
    block_id = str(block.get("block_id", ""))
    raw = block.get("element")
    element: JsonDict = raw if isinstance(raw, dict) else {}
    optional = bool(block.get("optional", False))
    control_id = f"input-{block_id}"
    label = text_html(block.get("label"), names)
    if optional:
        label += ' <span class="optional">(optional)</span>'
    parts = [
        f'<label class="bk-label" for="{attr(control_id)}">{label}</label>',
        _control(element, control_id, names, required=not optional),
    ]
    if isinstance(block.get("hint"), dict):
        parts.append(f'<p class="bk-hint">{text_html(block["hint"], names)}</p>')
    error = errors.get(block_id)
    if error:
        parts.append(
            f'<p class="bk-input-error" role="alert" data-error-for="{attr(block_id)}">'
            f"{plain_html(str(error))}</p>"
        )
    triggers = _dispatch_triggers(block, element)
    dispatch = f' data-dispatch="{attr(" ".join(triggers))}"' if triggers else ""
    return (
        f'<div class="bk-input{" has-error" if error else ""}" data-block-id="{attr(block_id)}" '
        f'data-action-id="{attr(element.get("action_id", ""))}"{dispatch}>{"".join(parts)}</div>'
    )


def _dispatch_triggers(block: JsonDict, element: JsonDict) -> list[str]:
    """When a text input in a `dispatch_action` block reaches the app before submission:
    on Enter unless its `dispatch_action_config` says otherwise (Slack's default)."""
    if block.get("dispatch_action") is not True or element.get("type") not in _DISPATCHING:
        return []
    config = element.get("dispatch_action_config")
    triggers = config.get("trigger_actions_on") if isinstance(config, dict) else None
    if not isinstance(triggers, list) or not triggers:
        return ["on_enter_pressed"]
    return [str(t) for t in triggers if t in ("on_enter_pressed", "on_character_entered")]


def _control(element: JsonDict, control_id: str, names: Names, *, required: bool) -> str:
    kind = str(element.get("type", ""))
    base = f'id="{attr(control_id)}" data-input-kind="{attr(kind)}"'
    needed = " required" if required else ""
    if kind in _TEXT_INPUT_TYPES:
        return _text_control(element, kind, base, needed)
    if kind in _SELECTS or kind in _MULTI_SELECTS:
        multiple = " multiple" if kind in _MULTI_SELECTS else ""
        options = _select_options(element, names)
        blank = "" if multiple else f'<option value="">{_placeholder(element, "Choose…")}</option>'
        return f"<select {base}{multiple}{needed}>{blank}{options}</select>"
    if kind in ("radio_buttons", "checkboxes"):
        box = "radio" if kind == "radio_buttons" else "checkbox"
        initial = _initial_values(element)
        choices = "".join(
            f'<label class="bk-choice"><input type="{box}" name="{attr(control_id)}" '
            f'value="{attr(option.get("value", ""))}"'
            f"{' checked' if option.get('value') in initial else ''}"
            f"{needed if box == 'radio' else ''}> {text_html(option.get('text'), names)}</label>"
            for option in _options(element)
        )
        return f'<div {base} class="bk-choices">{choices}</div>'
    return f'<p {base} class="bk-unsupported">[{plain_html(kind or "unknown")} input]</p>'


def _text_control(element: JsonDict, kind: str, base: str, needed: str) -> str:
    limits = "".join(
        f' {html_name}="{attr(element[key])}"'
        for key, html_name in (
            ("max_length", "maxlength"),
            ("min_length", "minlength"),
            ("min_value", "min"),
            ("max_value", "max"),
        )
        if key in element
    )
    if kind == "number_input":
        limits += ' step="any"' if element.get("is_decimal_allowed") else ' step="1"'
    placeholder = element.get("placeholder")
    if isinstance(placeholder, dict):
        limits += f' placeholder="{attr(placeholder.get("text", ""))}"'
    initial = str(
        element.get("initial_value")
        or element.get("initial_date")
        or element.get("initial_time")
        or ""
    )
    if kind == "plain_text_input" and element.get("multiline"):
        # A textarea holds raw text: escaped, but its newlines stay newlines.
        return f'<textarea {base} rows="4"{limits}{needed}>{escape(initial)}</textarea>'
    html_type = _TEXT_INPUT_TYPES[kind]
    return f'<input type="{html_type}" {base} value="{attr(initial)}"{limits}{needed}>'


def _select_options(element: JsonDict, names: Names) -> str:
    kind = str(element.get("type", ""))
    initial = _initial_values(element)
    if "users" in kind:
        choices = sorted(names.users.items(), key=lambda item: item[1].lower())
    elif "conversations" in kind or "channels" in kind:
        choices = sorted(names.channels.items(), key=lambda item: item[1])
        choices = [(channel_id, f"#{name}") for channel_id, name in choices]
    else:
        return "".join(
            _option(option, selected=option.get("value") in initial) for option in _options(element)
        )
    return "".join(
        f'<option value="{attr(value)}"{" selected" if value in initial else ""}>'
        f"{plain_html(label)}</option>"
        for value, label in choices
    )


def _initial_values(element: JsonDict) -> set[str]:
    values: set[str] = set()
    option = element.get("initial_option")
    if isinstance(option, dict):
        values.add(str(option.get("value")))
    for option in element.get("initial_options") or []:
        if isinstance(option, dict):
            values.add(str(option.get("value")))
    for key in ("initial_user", "initial_conversation", "initial_channel"):
        if element.get(key):
            values.add(str(element[key]))
    for key in ("initial_users", "initial_conversations", "initial_channels"):
        values.update(str(v) for v in element.get(key) or [])
    return values
