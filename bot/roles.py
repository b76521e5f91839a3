"""Who may do what from Slack: admins, requesters, and everyone else (DESIGN.md §7).

Three needs cover every listener:
- `admin` — change approvers, routes and policies; allow or refuse an agent's
  over-limit request. `ADMINS` (users and user groups), else the workspace's
  admins and owners.
- `request` — start anything that moves money or writes to OpenTrain.
  `ALLOWED_REQUESTERS`, else every full member of the installing workspace.
- `read` — see approvals, contracts, the audit trail: requesters and admins.

Guests and Slack Connect users of other teams are refused all three unless
`ALLOW_GUESTS` / `ALLOW_EXTERNAL_USERS`. The decision is made from the acting
user — the `team_id` their payload carries and what `users.info` says of
them — never from the team a request was delivered for. When Slack cannot
tell us who someone is, the answer is no (fail closed). Every refusal is
audited and names who can.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit_log import AuditEntry
from bot.clock import Clock
from bot.config import Settings
from bot.logs import log_kv
from bot.people import People, Person
from bot.store import Store

log = logging.getLogger(__name__)

Need = Literal["admin", "request", "read", "listed"]  # listed: one of the `listed` ids

# A demoted admin or a newly restricted guest loses their rights within this long.
STANDING_MAX_AGE = timedelta(minutes=5)


@dataclass(frozen=True)
class Workspace:
    """The installation the bot serves: its team, and its organisation on Enterprise Grid."""

    team_id: str
    enterprise_id: str | None = None


WorkspaceLookup = Callable[[], Awaitable[Workspace]]


@dataclass(frozen=True)
class Actor:
    """Who pressed, typed or pasted, as Slack delivered it."""

    user_id: str
    team_id: str | None = None  # the acting user's own team, when the payload says it


class AccessDenied(PermissionError):
    """A refusal: `str()` is what to tell the person, `who_can` the ids who could do it."""

    def __init__(self, message: str, who_can: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.who_can = tuple(who_can)


class Roles:
    def __init__(
        self,
        *,
        settings: Settings,
        people: People,
        store: Store,
        clock: Clock,
        workspace: WorkspaceLookup,
    ) -> None:
        self._admins = list(settings.admins)
        self._requesters = list(settings.allowed_requesters)
        self._allow_guests = settings.allow_guests
        self._allow_external = settings.allow_external_users
        self._people = people
        self._store = store
        self._clock = clock
        self._workspace = workspace

    async def require(
        self, actor: Actor, need: Need, action: str, listed: Sequence[str] = ()
    ) -> None:
        """Return if `actor` may do `action` (e.g. "change approvers"); else audit and raise.

        `listed` (need "listed"): the users and groups who may, such as a tier's admins."""
        refusal = await self._refusal(actor, need, action, listed)
        if refusal is None:
            return
        why, denied = refusal
        log.info("slack request refused %s", log_kv(user=actor.user_id, need=need, action=action))
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action="refused",
                actor=f"slack:{actor.user_id}",
                details={"kind": action, "need": need, "why": why},
            )
        )
        raise denied

    async def is_admin(self, actor: Actor) -> bool:
        """Whether `actor` has the admin role (an outsider never has it)."""
        return await self._refusal(actor, "admin", "act as an admin") is None

    async def admin_ids(self) -> list[str]:
        """The user ids behind the admin role: `ADMINS` expanded, else the workspace's admins."""
        if self._admins:
            return await self._people.expand(self._admins)
        try:
            return await self._people.workspace_admins()
        except SlackApiError as exc:
            log.warning("workspace admins unreadable %s", log_kv(error=exc.response.get("error")))
            return []

    # --- deciding ----------------------------------------------------------------------
    async def _refusal(
        self, actor: Actor, need: Need, action: str, listed: Sequence[str] = ()
    ) -> tuple[str, AccessDenied] | None:
        """(why, the refusal) — or None when `actor` may do it."""
        try:
            person = await self._people.person(actor.user_id, max_age=STANDING_MAX_AGE)
            workspace = await self._workspace()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else repr(exc)
            log.warning("standing unknown %s", log_kv(user=actor.user_id, error=error))
            return "lookup_failed", AccessDenied(
                f"I could not check with Slack who you are just now, so I can't {action}. "
                "Try again in a minute."
            )
        # Outside first: Slack knows no profile of many Slack Connect users (`user_not_found`),
        # which would otherwise read as a deactivated account.
        if self._external(actor, person, workspace) and not self._allow_external:
            return "external", AccessDenied(
                f"You are in this channel through Slack Connect from another organisation, so "
                f"you can't {action} here. Ask someone of this workspace; an admin can allow "
                "Slack Connect users with ALLOW_EXTERNAL_USERS=true."
            )
        # Slack keeps no profile of many Slack Connect users; allowed, they are not "deactivated".
        external_unknown = person.unknown and self._external(actor, person, workspace)
        if person.deleted and not external_unknown:
            return "deactivated", AccessDenied(f"Deactivated accounts can't {action}.")
        if person.is_guest and not self._allow_guests:
            return "guest", AccessDenied(
                f"Guests can't {action} in this workspace. Ask a full member; an admin can "
                "allow guests with ALLOW_GUESTS=true."
            )
        if need == "listed":
            if await self._listed(person.user_id, listed):
                return None
            return "not_listed", AccessDenied(f"Only these people can {action}:", listed)
        admin = await self._has_admin_role(person)
        if need == "admin":
            return None if admin else ("not_admin", self._admins_only(action))
        requester = await self._has_requester_role(person)
        if need == "request":
            return None if requester else ("not_requester", self._requesters_only(action))
        if requester or admin:
            return None
        return "not_reader", self._readers_only(action)

    def _external(self, actor: Actor, person: Person, workspace: Workspace) -> bool:
        if workspace.enterprise_id is not None:
            # On Grid, other workspaces of the same organisation are colleagues.
            return person.enterprise_id != workspace.enterprise_id
        teams = {team for team in (actor.team_id, person.team_id) if team}
        # No team at all is unknown, and unknown is outside.
        return not teams or teams != {workspace.team_id}

    async def _has_admin_role(self, person: Person) -> bool:
        if not self._admins:
            return person.is_admin and not person.is_bot
        return await self._listed(person.user_id, self._admins)

    async def _has_requester_role(self, person: Person) -> bool:
        if not self._requesters:
            return True  # every full member (outsiders were refused above)
        return await self._listed(person.user_id, self._requesters)

    async def _listed(self, user_id: str, ids: Sequence[str]) -> bool:
        if user_id in ids:
            return True
        for group in (member for member in ids if member.startswith("S")):
            if user_id in await self._people.members(group):
                return True
        return False

    # --- saying who can -------------------------------------------------------------------
    def _admins_only(self, action: str) -> AccessDenied:
        if self._admins:
            return AccessDenied(f"Only admins can {action}:", self._admins)
        return AccessDenied(
            f"Only the workspace's admins and owners can {action} (an admin can name others "
            "with ADMINS)."
        )

    def _requesters_only(self, action: str) -> AccessDenied:
        if self._requesters:
            return AccessDenied(
                f"Only these people can {action} (ALLOWED_REQUESTERS; ask an admin to add you):",
                self._requesters,
            )
        return AccessDenied(f"Only full members of this workspace can {action}.")

    def _readers_only(self, action: str) -> AccessDenied:
        ask = "ask an admin to add you to ALLOWED_REQUESTERS"
        if self._admins:
            return AccessDenied(
                f"Only requesters and admins can {action} ({ask}):",
                list(dict.fromkeys([*self._requesters, *self._admins])),
            )
        return AccessDenied(
            f"Only the workspace's admins and these requesters can {action} ({ask}):",
            self._requesters,
        )


class InstalledWorkspace:
    """The workspace of the bot's token (`auth.test`, asked once); SLACK_TEAM_ID wins if set."""

    def __init__(self, slack: AsyncWebClient, team_id: str | None) -> None:
        self._slack = slack
        self._team_id = team_id
        self._known: Workspace | None = None

    async def __call__(self) -> Workspace:
        if self._known is None:
            response = await self._slack.auth_test()
            team = self._team_id or str(response.get("team_id") or "")
            enterprise = response.get("enterprise_id") or None
            self._known = Workspace(team, str(enterprise) if enterprise else None)
        return self._known
