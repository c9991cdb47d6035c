"""Imports every model so that Alembic and the test suite see the whole schema."""

from ledger.models import Account, Journal, Transfer
from marketplace.accounts.models import (
    ApiToken,
    Membership,
    Organization,
    OrganizationDomain,
    User,
    UserSession,
)
from marketplace.accounts.second_factor_models import RecoveryCode, SecondFactor
from marketplace.audit.models import AuditEvent
from marketplace.challenges.models import (
    Challenge,
    Guest,
    Invitation,
    TermsAcceptance,
    TermsVersion,
)
from marketplace.dialogue.models import Clarification, ProgressUpdate
from marketplace.finance.models import BookExport
from marketplace.idempotency.models import IdempotencyKey
from marketplace.insight.models import NeedVisit, SolverFacts, SolverFactsRefresh, SolverMoney
from marketplace.judging.models import Award, Decision, Review, ReviewAssignment
from marketplace.notifications.models import Notification
from marketplace.outbox import OutboxJob
from marketplace.payments.models import Payment, StripeEvent
from marketplace.payouts.models import PayoutAccount, PayoutBatch, PayoutLine
from marketplace.proposals.models import Attachment, Message, Proposal, TeamMember
from marketplace.value.models import Contribution, ValueReport

__all__ = [
    "Account", "ApiToken", "Attachment", "AuditEvent", "Award", "BookExport", "Challenge",
    "Clarification",
    "Contribution",
    "Decision", "Guest", "IdempotencyKey",
    "Invitation", "Journal", "Membership", "Message", "NeedVisit",
    "Notification",
    "Organization", "OrganizationDomain", "OutboxJob", "Payment", "PayoutAccount", "PayoutBatch",
    "PayoutLine",
    "ProgressUpdate", "Proposal", "RecoveryCode", "Review", "ReviewAssignment", "SecondFactor",
    "SolverFacts", "SolverFactsRefresh", "SolverMoney", "StripeEvent", "TeamMember",
    "TermsAcceptance", "TermsVersion", "Transfer", "User", "UserSession",
    "ValueReport",
]  # fmt: skip
