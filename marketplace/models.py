"""Imports every model so that Alembic and the test suite see the whole schema."""

from ledger.models import Account, Journal, Transfer
from marketplace.accounts.models import Membership, Organization, User

__all__ = ["Account", "Journal", "Membership", "Organization", "Transfer", "User"]
