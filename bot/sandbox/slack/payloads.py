"""The bodies Slack sends an app: slash commands, interactions and Events API callbacks.

Pure functions of the recorded workspace. They refuse (`SimUsageError`) what
Slack's client would never send: a click on a button that is not there, a
modal submitted with a required input left empty, an option not offered.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox.slack.errors import SimUsageError
from bot.sandbox.slack.interactions import View
from bot.sandbox.slack.model import Channel, JsonDict, Message
from bot.sandbox.slack.state import SlackState

_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
_SINGLE_PICK = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
}
_MULTI_PICK = {
    "multi_users_select": "selected_users",
    "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
}
_DATE_PICKS = {"datepicker": "selected_date", "timepicker": "selected_time"}


def user_ref(state: SlackState, user_id: str) -> JsonDict:
    """The acting user of an interaction; `team_id` is their own (a Slack Connect user's home)."""
    user = state.users[user_id]
    return {
        "id": user.id,
        "username": user.name,
        "name": user.name,
        "team_id": user.home_team(state.team_id),
    }


def team_ref(state: SlackState) -> JsonDict:
    return {"id": state.team_id, "domain": state.team_domain}


def channel_name(channel: Channel) -> str:
    # Slack names a DM "directmessage" in command payloads.
    return "directmessage" if channel.kind == "im" else channel.name


def command_form(
    state: SlackState,
    *,
    command: str,
    text: str,
    user_id: str,
    channel: Channel,
    response_url: str,
    trigger_id: str,
    verification_token: str,
) -> dict[str, str]:
    return {
        "token": verification_token,
        "team_id": state.team_id,
        "team_domain": state.team_domain,
        "channel_id": channel.id,
        "channel_name": channel_name(channel),
        "user_id": user_id,
        "user_name": state.users[user_id].name,
        "command": command,
        "text": text,
        "api_app_id": state.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def find_element(
    blocks: list[JsonDict], action_id: str, value: str | None, block_id: str | None = None
) -> tuple[str, JsonDict]:
    """The interactive element a user acts on: its block_id and the element itself.

    `value` picks among elements sharing an action_id (a button's value, an option); what is
    typed into a dispatching text input is any text, so `block_id` tells those apart.
    """
    matches = [
        (str(block.get("block_id", "")), element)
        for block in blocks
        if block_id is None or block.get("block_id") == block_id
        for element in _interactive_elements(block)
        if element.get("action_id") == action_id and _offers(element, value)
    ]
    if not matches:
        wanted = f"action_id {action_id!r}" + (f" with value {value!r}" if value else "")
        raise SimUsageError(f"no element with {wanted} is shown there")
    if len(matches) > 1:
        raise SimUsageError(f"several elements have action_id {action_id!r}; pass a value")
    return matches[0]


def action_item(block_id: str, element: JsonDict, value: str | None, action_ts: str) -> JsonDict:
    """One entry of a `block_actions` payload's `actions`."""
    element_type = element.get("type")
    action: JsonDict = {
        "action_id": element["action_id"],
        "block_id": block_id,
        "type": element_type,
        "action_ts": action_ts,
    }
    if element_type == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
        return action
    if element_type in _TEXT_INPUTS:
        # What is in the input when it dispatches (Enter, or a character typed or removed).
        action["value"] = value or ""
        return action
    if element_type in ("static_select", "overflow", "radio_buttons"):
        if value is None:
            raise SimUsageError(f"choosing from a {element_type} needs the option's value")
        action["selected_option"] = _option(element, value)
        return action
    raise SimUsageError(f"clicking a {element_type} element is not supported")


def block_actions(
    state: SlackState,
    *,
    user_id: str,
    action: JsonDict,
    trigger_id: str,
    verification_token: str,
    container: JsonDict,
    channel: Channel | None = None,
    message: Message | None = None,
    view: View | None = None,
    response_url: str | None = None,
) -> JsonDict:
    payload: JsonDict = {
        "type": "block_actions",
        "user": user_ref(state, user_id),
        "api_app_id": state.app_id,
        "token": verification_token,
        "container": container,
        "trigger_id": trigger_id,
        "team": team_ref(state),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel is not None:
        payload["channel"] = {"id": channel.id, "name": channel_name(channel)}
    if message is not None:
        payload["message"] = message.to_slack(
            state.team_id, bot_name=state.bot_name, include_metadata=True
        )
    if view is not None:
        payload["view"] = view.to_slack(
            team_id=state.team_id, app_id=state.app_id, bot_id=state.bot_id
        )
    payload["state"] = {"values": {}}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def view_submission(
    state: SlackState, *, user_id: str, view: View, trigger_id: str, verification_token: str
) -> JsonDict:
    return {
        "type": "view_submission",
        "team": team_ref(state),
        "user": user_ref(state, user_id),
        "api_app_id": state.app_id,
        "token": verification_token,
        "trigger_id": trigger_id,
        "view": view.to_slack(team_id=state.team_id, app_id=state.app_id, bot_id=state.bot_id),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(
    state: SlackState, event: JsonDict, *, event_id: str, verification_token: str
) -> JsonDict:
    return {
        "token": verification_token,
        "team_id": state.team_id,
        "api_app_id": state.app_id,
        "event": {**event, "event_ts": event.get("event_ts") or state.next_ts()},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(state.clock()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": state.team_id,
                "user_id": state.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": _in_ext_shared_channel(state, event),
        "event_context": f"4-{event_id}",
    }


def _in_ext_shared_channel(state: SlackState, event: JsonDict) -> bool:
    channel = state.channels.get(str(event.get("channel", "")))
    return channel is not None and bool(channel.shared_with)


def view_state_values(
    view: View, values: dict[str, dict[str, Any]], *, submitting: bool = True
) -> JsonDict:
    """`view.state.values`: every input block, typed like Slack types them.

    `values` maps block_id → action_id → what the user entered: a string for
    text inputs, dates and single choices (the option's value), a list for
    multi-selects, or an already Slack-shaped dict. Slack's client checks required inputs
    and lengths when the view is submitted, not while it is being filled in (`submitting`).
    """
    inputs = {
        str(block["block_id"]): block
        for block in view.content.get("blocks", [])
        if block.get("type") == "input"
    }
    unknown = set(values) - set(inputs)
    if unknown:
        raise SimUsageError(f"the view has no input block {', '.join(sorted(unknown))}")
    state: JsonDict = {}
    for block_id, block in inputs.items():
        element = block["element"]
        action_id = str(element.get("action_id", ""))
        given = values.get(block_id, {})
        if set(given) - {action_id}:
            raise SimUsageError(f"input block {block_id} has only action_id {action_id!r}")
        entered = given.get(action_id)
        if entered in (None, "", []):
            if submitting and not block.get("optional", False):
                raise SimUsageError(f"required input {block_id} left empty")
            state[block_id] = {action_id: _empty_value(element)}
        else:
            state[block_id] = {action_id: _entered_value(element, entered, submitting)}
    return state


def _interactive_elements(block: JsonDict) -> list[JsonDict]:
    if block.get("type") == "actions":
        return [e for e in block.get("elements", []) if isinstance(e, dict)]
    if block.get("type") == "section" and isinstance(block.get("accessory"), dict):
        return [block["accessory"]]
    # An input block's element reaches the app before submission only if the block asks.
    if block.get("type") == "input" and block.get("dispatch_action") is True:
        element = block.get("element")
        return [element] if isinstance(element, dict) else []
    return []


def _offers(element: JsonDict, value: str | None) -> bool:
    """Whether the element can send `value`: a text input sends whatever is typed."""
    return value is None or element.get("type") in _TEXT_INPUTS or value in _element_values(element)


def _element_values(element: JsonDict) -> set[str]:
    if "value" in element:
        return {str(element["value"])}
    return {str(option.get("value")) for option in _options(element)}


def _options(element: JsonDict) -> list[JsonDict]:
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    return [option for option in options if isinstance(option, dict)]


def _option(element: JsonDict, value: str) -> JsonDict:
    for option in _options(element):
        if option.get("value") == value:
            return option
    raise SimUsageError(f"{element.get('action_id')!r} offers no option {value!r}")


def _empty_value(element: JsonDict) -> JsonDict:
    element_type = str(element.get("type"))
    if element_type in _TEXT_INPUTS:
        return {"type": element_type, "value": None}
    if element_type in _SINGLE_OPTION:
        return {"type": element_type, "selected_option": None}
    if element_type in _MULTI_OPTION:
        return {"type": element_type, "selected_options": []}
    if element_type in _DATE_PICKS:
        return {"type": element_type, _DATE_PICKS[element_type]: None}
    if element_type in _SINGLE_PICK:
        return {"type": element_type, _SINGLE_PICK[element_type]: None}
    if element_type in _MULTI_PICK:
        return {"type": element_type, _MULTI_PICK[element_type]: []}
    return {"type": element_type}


def _entered_value(element: JsonDict, entered: Any, submitting: bool) -> JsonDict:
    element_type = str(element.get("type"))
    if isinstance(entered, dict):
        return {"type": element_type, **entered}
    if element_type in _TEXT_INPUTS:
        text = str(entered)
        _check_text_input(element, text, submitting)
        return {"type": element_type, "value": text}
    if element_type in _DATE_PICKS:
        _check_date_or_time(element_type, str(entered))
        return {"type": element_type, _DATE_PICKS[element_type]: str(entered)}
    if element_type == "datetimepicker":
        return {"type": element_type, "selected_date_time": int(entered)}
    if element_type in _SINGLE_OPTION:
        return {"type": element_type, "selected_option": _option(element, str(entered))}
    if element_type in _MULTI_OPTION:
        chosen = entered if isinstance(entered, list) else [entered]
        return {
            "type": element_type,
            "selected_options": [_option(element, str(v)) for v in chosen],
        }
    if element_type in _SINGLE_PICK:
        return {"type": element_type, _SINGLE_PICK[element_type]: str(entered)}
    if element_type in _MULTI_PICK:
        chosen = entered if isinstance(entered, list) else [entered]
        return {"type": element_type, _MULTI_PICK[element_type]: [str(v) for v in chosen]}
    raise SimUsageError(f"entering a value into a {element_type} is not supported")


def _check_text_input(element: JsonDict, text: str, submitting: bool) -> None:
    """Slack's client enforces these before the app ever sees the submission; no one can type
    past `max_length`, while the rest is checked only when the view is submitted."""
    if "max_length" in element and len(text) > int(element["max_length"]):
        raise SimUsageError(
            f"{element['action_id']!r} takes at most {element['max_length']} characters"
        )
    if not submitting:
        return
    if "min_length" in element and len(text) < int(element["min_length"]):
        raise SimUsageError(
            f"{element['action_id']!r} needs at least {element['min_length']} characters"
        )
    if element.get("type") == "number_input":
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise SimUsageError(f"{element['action_id']!r} takes a number") from None
        if not element.get("is_decimal_allowed") and number != number.to_integral_value():
            raise SimUsageError(f"{element['action_id']!r} takes a whole number")
        if "min_value" in element and number < Decimal(str(element["min_value"])):
            raise SimUsageError(f"{element['action_id']!r} is at least {element['min_value']}")
        if "max_value" in element and number > Decimal(str(element["max_value"])):
            raise SimUsageError(f"{element['action_id']!r} is at most {element['max_value']}")


def _check_date_or_time(element_type: str, text: str) -> None:
    try:
        if element_type == "datepicker":
            date.fromisoformat(text)
        else:
            time.fromisoformat(text)
    except ValueError:
        raise SimUsageError(f"{text!r} is not a valid {element_type} value") from None
