"""Every Web API method the simulator answers, with its rate-limit tier and fixed scope.

Tiers follow each method's page in Slack's reference. `auth.test` and
`chat.getPermalink` are in Slack's "special" tier with generous limits; they
are held to Tier 4 here.
"""

from __future__ import annotations

from bot.sandbox.slack.methods import chat, conversations, directory, reactions, views
from bot.sandbox.slack.methods.context import MethodSpec
from bot.sandbox.slack.ratelimit import Tier

METHODS: dict[str, MethodSpec] = {
    "auth.test": MethodSpec(directory.auth_test, Tier.TIER_4),
    "chat.postMessage": MethodSpec(chat.post_message, Tier.POST_MESSAGE, "chat:write"),
    "chat.update": MethodSpec(chat.update, Tier.TIER_3, "chat:write"),
    "chat.postEphemeral": MethodSpec(chat.post_ephemeral, Tier.TIER_4, "chat:write"),
    "chat.getPermalink": MethodSpec(chat.get_permalink, Tier.TIER_4),
    "chat.unfurl": MethodSpec(chat.unfurl, Tier.TIER_3, "links:write"),
    "conversations.open": MethodSpec(conversations.open_conversation, Tier.TIER_3),
    "conversations.info": MethodSpec(conversations.info, Tier.TIER_3),
    "conversations.join": MethodSpec(conversations.join, Tier.TIER_3, "channels:join"),
    "conversations.members": MethodSpec(conversations.members, Tier.TIER_4),
    "conversations.history": MethodSpec(conversations.history, Tier.TIER_3),
    "conversations.replies": MethodSpec(conversations.replies, Tier.TIER_3),
    "reactions.add": MethodSpec(reactions.add, Tier.TIER_3, "reactions:write"),
    "users.info": MethodSpec(directory.users_info, Tier.TIER_4, "users:read"),
    "users.list": MethodSpec(directory.users_list, Tier.TIER_2, "users:read"),
    "usergroups.list": MethodSpec(directory.usergroups_list, Tier.TIER_2, "usergroups:read"),
    "usergroups.users.list": MethodSpec(
        directory.usergroups_users_list, Tier.TIER_2, "usergroups:read"
    ),
    "views.open": MethodSpec(views.open_modal, Tier.TIER_4),
    "views.push": MethodSpec(views.push, Tier.TIER_4),
    "views.update": MethodSpec(views.update, Tier.TIER_4),
    "views.publish": MethodSpec(views.publish, Tier.TIER_4),
}
