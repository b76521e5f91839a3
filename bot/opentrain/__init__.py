"""OpenTrain's Public API: typed async client, wire models and error types.

A leaf package: it imports nothing from the rest of `bot/` and knows nothing of Slack.
"""

from bot.opentrain.account import (
    AuthMe,
    Capabilities,
    Credits,
    LedgerEntry,
    Message,
    MessagesPage,
    PendingPayment,
    Webhook,
    WebhookCreated,
)
from bot.opentrain.client import OpenTrainClient
from bot.opentrain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InternalError,
    NotFound,
    OpenTrainError,
    OpenTrainUnavailable,
    RateLimited,
    Unauthorized,
)
from bot.opentrain.models import (
    Approval,
    ApprovalRequested,
    ApprovalStatus,
    ApprovalType,
    Contract,
    ContractEnded,
    HireTerms,
    Interview,
    Milestone,
    Proposal,
    ProposalsPage,
    UpdateEvent,
    UpdatesPage,
)

__all__ = [
    "Approval",
    "ApprovalRequested",
    "ApprovalStatus",
    "ApprovalType",
    "AuthMe",
    "BadRequest",
    "Capabilities",
    "Conflict",
    "Contract",
    "ContractEnded",
    "Credits",
    "Forbidden",
    "HireTerms",
    "InternalError",
    "Interview",
    "LedgerEntry",
    "Message",
    "MessagesPage",
    "Milestone",
    "NotFound",
    "OpenTrainClient",
    "OpenTrainError",
    "OpenTrainUnavailable",
    "PendingPayment",
    "Proposal",
    "ProposalsPage",
    "RateLimited",
    "Unauthorized",
    "UpdateEvent",
    "UpdatesPage",
    "Webhook",
    "WebhookCreated",
]
