"""Slack's `:shortcode:` emoji as the characters Slack's client shows for them.

Only the common ones: a shortcode not listed here is shown as typed, as Slack does for a
name it does not know. The names are Slack's (`:white_check_mark:`, `:hourglass_flowing_sand:`).
"""

from __future__ import annotations

import re

_SHORTCODE = re.compile(r":([a-z0-9_+-]{1,50}):")

EMOJI = {
    "+1": "👍",
    "-1": "👎",
    "100": "💯",
    "alarm_clock": "⏰",
    "arrow_right": "➡️",
    "arrows_counterclockwise": "🔄",
    "bell": "🔔",
    "bulb": "💡",
    "bust_in_silhouette": "👤",
    "busts_in_silhouette": "👥",
    "calendar": "📆",
    "chart_with_upwards_trend": "📈",
    "checkered_flag": "🏁",
    "clap": "👏",
    "clipboard": "📋",
    "credit_card": "💳",
    "date": "📅",
    "dollar": "💵",
    "e-mail": "📧",
    "email": "📧",
    "envelope": "✉️",
    "exclamation": "❗",
    "eyes": "👀",
    "fire": "🔥",
    "gear": "⚙️",
    "hammer_and_wrench": "🛠️",
    "heart": "❤️",
    "heavy_check_mark": "✔️",
    "heavy_minus_sign": "➖",
    "heavy_plus_sign": "➕",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "inbox_tray": "📥",
    "information_source": "ℹ️",
    "joy": "😂",
    "key": "🔑",
    "large_blue_circle": "🔵",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "link": "🔗",
    "lock": "🔒",
    "mag": "🔍",
    "memo": "📝",
    "money_with_wings": "💸",
    "moneybag": "💰",
    "muscle": "💪",
    "no_bell": "🔕",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "ok_hand": "👌",
    "outbox_tray": "📤",
    "package": "📦",
    "page_facing_up": "📄",
    "pencil": "📝",
    "pray": "🙏",
    "pushpin": "📌",
    "question": "❓",
    "raised_hands": "🙌",
    "red_circle": "🔴",
    "repeat": "🔁",
    "robot_face": "🤖",
    "rocket": "🚀",
    "rotating_light": "🚨",
    "slightly_smiling_face": "🙂",
    "smile": "😄",
    "sparkles": "✨",
    "speech_balloon": "💬",
    "star": "⭐",
    "stop_sign": "🛑",
    "stopwatch": "⏱️",
    "tada": "🎉",
    "thinking_face": "🤔",
    "thumbsdown": "👎",
    "thumbsup": "👍",
    "unlock": "🔓",
    "warning": "⚠️",
    "wave": "👋",
    "white_check_mark": "✅",
    "x": "❌",
    "zzz": "💤",
}


def emojize(text: str) -> str:
    """`text` with every known `:shortcode:` replaced by its emoji (safe on escaped HTML:
    shortcodes hold no character that escaping changes)."""
    return _SHORTCODE.sub(lambda match: EMOJI.get(match.group(1), match.group(0)), text)
