"""Who may read which part of the book.

Platform finance staff see every account and transfer. An organization's finance members (and
its owners) see only that organization's accounts: the escrow of its needs and what it owes the
platform (receivables), and only the transfers that touch them. Anyone else is refused; another
organization's account or transfer is not found (404), so its existence is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select

import ledger
from marketplace.accounts.models import Membership, Organization, OrgRole, User
from marketplace.accounts.second_factor import require_second_factor
from marketplace.challenges.models import Challenge
from marketplace.errors import Forbidden, NotFound
from marketplace.extensions import db

#: Organization roles that may read their organization's accounts.
FINANCE_ROLES = (OrgRole.FINANCE.value, OrgRole.OWNER.value)
ESCROW = "liability:escrow:challenge:"
RECEIVABLE = "asset:receivable:org:"


@dataclass(frozen=True)
class Scope:
    """What one user may read: everything, or the accounts of some organizations."""

    everything: bool
    organization_ids: frozenset[int] = frozenset()

    def account_condition(self) -> ColumnElement[bool]:
        """A condition on ``ledger.Account`` that keeps the accounts in scope."""
        if self.everything:
            return ledger.Account.id.is_not(None)
        ids = sorted(self.organization_ids)
        escrow_codes = select(ESCROW + Challenge.id.cast(db.String)).where(
            Challenge.organization_id.in_(ids)
        )
        return or_(
            ledger.Account.code.in_(escrow_codes),
            *(ledger.Account.code.startswith(f"{RECEIVABLE}{org_id}:") for org_id in ids),
        )

    def account_ids(self) -> select:
        """A subquery of the ids of the accounts in scope."""
        return select(ledger.Account.id).where(self.account_condition())

    def transfer_condition(self) -> ColumnElement[bool]:
        """A condition on ``ledger.Transfer``: it touches an account in scope."""
        if self.everything:
            return ledger.Transfer.id.is_not(None)
        ids = self.account_ids()
        return or_(
            ledger.Transfer.debit_account_id.in_(ids), ledger.Transfer.credit_account_id.in_(ids)
        )


def finance_scope(actor: User) -> Scope:
    """The part of the book ``actor`` may read; Forbidden for anyone without a finance role."""
    if not getattr(actor, "is_authenticated", False):
        raise Forbidden("Sign in as finance staff to see the books.")
    if actor.is_platform_finance:
        require_second_factor(actor, "use the finance desk")
        return Scope(everything=True)
    organization_ids = db.session.scalars(
        select(Membership.organization_id).where(
            Membership.user_id == actor.id, Membership.role.in_(FINANCE_ROLES)
        )
    ).all()
    if not organization_ids:
        raise Forbidden(
            "Only platform finance staff, or an organization's finance members and owners, "
            "may see the books."
        )
    return Scope(everything=False, organization_ids=frozenset(organization_ids))


def visible_account(scope: Scope, code: str) -> ledger.Account:
    """The account with this code, if in scope; NotFound otherwise (also when it exists)."""
    account = db.session.scalar(
        select(ledger.Account).where(ledger.Account.code == code, scope.account_condition())
    )
    if account is None:
        raise NotFound(f"No account {code!r} that you may see.")
    return account


def visible_accounts(scope: Scope) -> list[ledger.Account]:
    return list(
        db.session.scalars(
            select(ledger.Account)
            .where(scope.account_condition())
            .order_by(ledger.Account.currency, ledger.Account.code)
        )
    )


def organization_names(ids: set[int] | None = None) -> dict[int, str]:
    query = select(Organization.id, Organization.name)
    if ids is not None:
        query = query.where(Organization.id.in_(sorted(ids)))
    return {key: value for key, value in db.session.execute(query).all()}
