"""Imports every model so that Alembic and the test suite see the whole schema."""

from ledger.models import Account, Journal, Transfer
from marketplace.accounts.models import (
    ApiToken,
    Membership,
    Organization,
    OrganizationDomain,
    User,
)
from marketplace.challenges.models import (
    Challenge,
    Guest,
    Invitation,
    TermsAcceptance,
    TermsVersion,
)
from marketplace.dialogue.models import Clarification, ProgressUpdate
from marketplace.notifications.models import Notification
from marketplace.payments.models import Payment, StripeEvent

__all__ = [
    "Account", "ApiToken", "Challenge", "Clarification", "Guest", "Invitation", "Journal",
    "Membership", "Notification", "Organization", "OrganizationDomain", "Payment",
    "ProgressUpdate", "StripeEvent", "TermsAcceptance", "TermsVersion", "Transfer", "User",
]  # fmt: skip
