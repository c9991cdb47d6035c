"""The platform's chart of accounts: one function per kind of account (DESIGN.md table).

Codes carry the currency where one party may hold several (cash, payables, fees,
receivables), since a ledger account has exactly one currency.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

import ledger
from ledger import Account, AccountType


def cash(session: Session, currency: str) -> Account:
    return ledger.open_account(
        session,
        f"asset:cash:stripe:{currency.lower()}",
        AccountType.ASSET,
        currency,
        name=f"Cash at Stripe ({currency})",
    )


def escrow(session: Session, challenge_id: int, currency: str) -> Account:
    """Prize money held for one challenge; can never go below zero."""
    return ledger.open_account(
        session,
        f"liability:escrow:challenge:{challenge_id}",
        AccountType.LIABILITY,
        currency,
        name=f"Escrow of challenge {challenge_id}",
        debits_must_not_exceed_credits=True,
    )


def _payable_code(user_id: int, currency: str) -> str:
    return f"liability:payable:solver:{user_id}:{currency.lower()}"


def payable(session: Session, user_id: int, currency: str) -> Account:
    """What the platform owes one solver; nobody is paid more than they are owed."""
    return ledger.open_account(
        session,
        _payable_code(user_id, currency),
        AccountType.LIABILITY,
        currency,
        name=f"Owed to solver {user_id}",
        debits_must_not_exceed_credits=True,
    )


def payables(session: Session, user_ids: Iterable[int], currency: str) -> dict[int, int]:
    """``payable`` for many solvers at once (a few statements, not two per solver):
    ``{user id: payable account id}``."""
    codes = {_payable_code(user_id, currency): user_id for user_id in user_ids}
    opened = ledger.open_accounts(
        session,
        {code: f"Owed to solver {user_id}" for code, user_id in codes.items()},
        AccountType.LIABILITY,
        currency,
        debits_must_not_exceed_credits=True,
    )
    return {user_id: opened[code] for code, user_id in codes.items()}


def fees(session: Session, currency: str) -> Account:
    return ledger.open_account(
        session,
        f"revenue:fees:{currency.lower()}",
        AccountType.REVENUE,
        currency,
        name=f"Platform fees ({currency})",
    )


def receivable(session: Session, organization_id: int, currency: str) -> Account:
    """Value share an organization owes the platform (to pass on to co-creators)."""
    return ledger.open_account(
        session,
        f"asset:receivable:org:{organization_id}:{currency.lower()}",
        AccountType.ASSET,
        currency,
        name=f"Receivable from organization {organization_id}",
    )
