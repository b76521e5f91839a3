"""What the token is and what the account has (opentrain-api.md §3–§6, §13, §14): who the
token belongs to and whether the account is claimed, feature capabilities, credits and
pending payments, webhook subscriptions, and messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, Field, SecretStr

from bot.opentrain.wire import Instant, WireModel

CENTS_PER_DOLLAR = Decimal(100)

# Scopes every anonymously registered agent token carries before a human claims
# the account (opentrain-api.md §2.2); anything beyond them implies a claim.
PRE_CLAIM_SCOPES = frozenset(
    {"jobs:read", "jobs:write", "proposals:read", "messages:read", "payments:read", "team:read"}
)


# --- credits and payments (§6) ----------------------------------------------------


class LedgerEntry(WireModel):
    """`type`: TOP_UP, HOLD, HOLD_RELEASE, CAPTURE, REFUND, ADJUSTMENT; cents are signed."""

    id: str
    type: str
    amount_cents: int
    created_at: Instant | None = None
    hold_entry_id: str | None = None
    joboffer_id: str | None = None  # OpenTrain's name for the proposal id
    contract_id: str | None = None
    milestone_id: str | None = None
    top_up_id: str | None = None
    note: str | None = None


class Credits(WireModel):
    available_cents: int = 0
    reserved_cents: int = 0
    currency: str = "usd"
    recent_entries: list[LedgerEntry] = Field(default_factory=list)

    @property
    def available_usd(self) -> Decimal:
        return Decimal(self.available_cents) / CENTS_PER_DOLLAR

    @property
    def reserved_usd(self) -> Decimal:
        return Decimal(self.reserved_cents) / CENTS_PER_DOLLAR


class PaymentJob(WireModel):
    id: str
    title: str | None = None


class PaymentMilestone(WireModel):
    id: str
    name: str | None = None


class PendingPayment(WireModel):
    """`status`: PENDING_FUNDING (the employer owes) or PENDING_PAYOUT (paid to the caller)."""

    id: str  # the invoice id
    status: str
    invoice_kind: str | None = None
    viewer_role: str | None = None
    amount_usd: Decimal | None = None
    created_at: Instant | None = None
    invoice_number: int | None = None
    job: PaymentJob | None = None
    milestone: PaymentMilestone | None = None


# --- who the token is, and what the account may do (§3, §4) -----------------------


class AuthActor(WireModel):
    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    user_type: str | None = None


class AuthToken(WireModel):
    id: str
    label: str | None = None
    scopes: list[str] = Field(default_factory=list)
    owner_organization_id: str | None = None


class AuthAccount(WireModel):
    kind: str | None = None
    organization_id: str | None = None
    owner_user_id: str | None = None
    member_role: str | None = None
    # Not documented (§3); read when OpenTrain sends one of these names.
    claimed: bool | None = Field(
        default=None, validation_alias=AliasChoices("claimed", "isClaimed")
    )


class AuthMe(WireModel):
    actor: AuthActor
    token: AuthToken
    account: AuthAccount

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.token.scopes)

    def has_scope(self, scope: str) -> bool:
        """Whether the token grants `scope`; a `:write` scope implies the matching `:read`."""
        resource, _, action = scope.partition(":")
        return scope in self.scopes or (action == "read" and f"{resource}:write" in self.scopes)

    @property
    def claimed(self) -> bool:
        """Derived, not documented: /auth/me has no claim flag (opentrain-api.md §3).

        In order: a claim flag on the account if OpenTrain sends one; claimed
        when the token holds a scope outside the pre-claim set (only the claim
        exchange or a human minting a token in the app grants those); unclaimed
        when it holds exactly the pre-claim set (the registration token); else
        claimed when the actor has an email (a claim binds a human's email to an
        agent-registered account). The 403 `account_claim_required` on the
        write itself remains the authority.
        """
        if self.account.claimed is not None:
            return self.account.claimed
        if self.scopes - PRE_CLAIM_SCOPES:
            return True
        if self.scopes == PRE_CLAIM_SCOPES:
            return False
        return bool(self.actor.email)


class CapabilityFlags(WireModel):
    """`false` means the matching endpoints answer 403 with `details.featureKey`."""

    draft_import: bool = False
    draft_create: bool = False
    draft_update: bool = False
    draft_url_read: bool = False
    publish: bool = False
    hiring: bool = False
    messaging_writes: bool = False
    team: bool = False
    payments_write: bool = False
    credits: bool = False
    webhooks: bool = False


class Capabilities(WireModel):
    feature_key: str | None = None
    namespace: str | None = None
    rollout_mode: str | None = None
    actor_is_admin: bool = False
    capabilities: CapabilityFlags = Field(default_factory=CapabilityFlags)
    draft: dict[str, Any] | None = None
    auth_bootstrap: str | None = None
    enabled: bool = False


# --- webhooks (§13) ---------------------------------------------------------------


class Webhook(WireModel):
    """`status`: ACTIVE | DISABLED (a disabled subscription can only be deleted and recreated)."""

    id: str
    url: str
    event_types: list[str] = Field(default_factory=list)
    status: str
    created_at: Instant | None = None
    disabled_at: Instant | None = None
    disabled_reason: str | None = None


class WebhookCreated(WireModel):
    webhook: Webhook
    secret: SecretStr  # whsec_…, returned only this once
    message: str = ""


# --- messages (§14) ---------------------------------------------------------------


class Message(WireModel):
    id: str
    created_at: Instant | None = None
    updated_at: Instant | None = None
    conversation_id: str | None = None
    job_id: str | None = None
    sender_user_id: str | None = None
    is_from_viewer: bool = False
    content: str = ""
    message_type: str | None = None
    system: bool = False
    has_unread_flag: bool = False
    attachment_count: int = 0
    has_audio: bool = False
    edited_at: Instant | None = None
    reaction_count: int = 0


class LastMessage(WireModel):
    id: str
    content: str = ""
    sender_user_id: str | None = None
    is_from_viewer: bool = False
    created_at: Instant | None = None


class ConversationSummary(WireModel):
    id: str
    type: str | None = None
    bucket: str | None = None
    job_id: str | None = None
    proposal_id: str | None = None
    channel_name: str | None = None
    updated_at: Instant | None = None
    last_message: LastMessage | None = None
    unread_count: int = 0
    needs_reply_count: int = 0


class MessagesPage(WireModel):
    """GET /messages in either mode: list mode fills `conversations`, message mode `messages`.

    The message-mode array key is unconfirmed (the docs say "probably `messages`").
    """

    conversations: list[ConversationSummary] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    next_cursor: str | None = None


class MessageSent(WireModel):
    ok: bool = True
    message: Message
