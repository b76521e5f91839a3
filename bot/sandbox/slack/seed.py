"""Named starting workspaces. Ids and names are stable: tests and docs refer to them."""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.slack.model import Channel
from bot.sandbox.slack.people import User, UserGroup
from bot.sandbox.slack.state import SlackState

PARTNER_TEAM = "T0PARTNER"  # the organisation #hiring is shared with over Slack Connect


def _seed_empty(state: SlackState) -> None:
    """Just the team and the bot user."""
    state.add_user(
        User(
            id=state.bot_user_id,
            name="opentrain",
            real_name=state.bot_name,
            display_name=state.bot_name,
            is_bot=True,
            bot_id=state.bot_id,
        )
    )


def _seed_demo(state: SlackState) -> None:
    """People in four time zones, a finance user group, and channels for each access case.

    Three outsiders are in #hiring only: a multi-channel guest and two Slack Connect users
    of the partner organisation #hiring is shared with (one whose profile it keeps).
    """
    _seed_empty(state)
    people = [
        User("U0ANA", "ana", "Ana Albrecht", "Ana", tz="Europe/Berlin", is_admin=True),
        User("U0BEN", "ben", "Ben Brooks", "Ben", tz="America/New_York"),
        User("U0KAI", "kai", "Kai Ngata", "Kai", tz="Pacific/Auckland"),
        User("U0LEI", "lei", "Lei Kahale", "Lei", tz="Pacific/Honolulu"),
        User("U0GONE", "gone", "Gone Person", "Gone", tz="Europe/London", deleted=True),
        User("U0GUEST", "gina", "Gina Guest", "Gina", tz="Europe/London", is_restricted=True),
        User(
            "U0EXT", "omar", "Omar Outside", "Omar", tz="America/Los_Angeles", team_id=PARTNER_TEAM
        ),
        # Slack Connect as it often is: a `W…` id whose profile the partner does not share.
        User(
            "W0WALT",
            "walt",
            "Walt Wide",
            "Walt",
            tz="America/Chicago",
            team_id=PARTNER_TEAM,
            hidden=True,
        ),
        User(
            "U0OTHERBOT",
            "otherbot",
            "Other Bot",
            "Other Bot",
            is_bot=True,
            bot_id="B0OTHERBOT",
        ),
    ]
    for person in people:
        state.add_user(person)

    state.add_usergroup(
        UserGroup(
            id="S0FINANCE",
            handle="finance-team",
            name="Finance Team",
            description="People who confirm OpenTrain payments",
            users=["U0ANA", "U0BEN"],
            created=int(state.clock()),
        )
    )

    created = int(state.clock())
    bot = state.bot_user_id
    everyone = {"U0ANA", "U0BEN", "U0KAI", "U0LEI", "U0OTHERBOT"}
    for channel in (
        Channel("C0GENERAL", "general", "public", {*everyone, bot}, created, is_general=True),
        Channel(
            "C0HIRING",
            "hiring",
            "public",
            {"U0ANA", "U0BEN", "U0KAI", "U0GUEST", "U0EXT", "W0WALT", bot},
            created,
            shared_with=(PARTNER_TEAM,),
        ),
        # The bot is deliberately not invited: posting here must fail like in Slack.
        Channel("C0PRIVATE", "finance-private", "private", {"U0ANA", "U0BEN"}, created),
        Channel("C0ARCHIVED", "old", "public", {"U0ANA", bot}, created, is_archived=True),
        # Public and without the bot: it must `conversations.join` before posting or reading.
        Channel("C0LABELING", "labeling", "public", {"U0ANA", "U0BEN", "U0KAI"}, created),
    ):
        state.add_channel(channel)


SEEDS: dict[str, Callable[[SlackState], None]] = {"demo": _seed_demo, "empty": _seed_empty}


def apply_seed(state: SlackState, name: str) -> None:
    try:
        seed = SEEDS[name]
    except KeyError:
        raise ValueError(f"unknown seed {name!r}; known: {', '.join(sorted(SEEDS))}") from None
    seed(state)
