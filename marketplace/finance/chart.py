"""The platform's chart of accounts: one function per kind of account (DESIGN.md table).

Codes carry the currency where one party may hold several (cash, payables, fees,
receivables), since a ledger account has exactly one currency.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

import ledger
from ledger import Account, AccountConflict, AccountType, InvalidAccount, UTCDateTime, utcnow


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


PAYABLE_PREFIX = "liability:payable:solver:"


def _payable_code(user_id: int, currency: str) -> str:
    return f"{PAYABLE_PREFIX}{user_id}:{currency.lower()}"


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
    user_ids = list(user_ids)
    if user_ids and session.get_bind().dialect.name == "postgresql":
        return _payables_postgresql(session, user_ids, currency)
    return _payables_generic(session, user_ids, currency)


def _payables_generic(session: Session, user_ids: list[int], currency: str) -> dict[int, int]:
    codes = {_payable_code(user_id, currency): user_id for user_id in user_ids}
    opened = ledger.open_accounts(
        session,
        {code: f"Owed to solver {user_id}" for code, user_id in codes.items()},
        AccountType.LIABILITY,
        currency,
        debits_must_not_exceed_credits=True,
    )
    return {user_id: opened[code] for code, user_id in codes.items()}


# What ledger.open_accounts does for payables, in one statement whose only array is the user
# ids: the database builds the codes and names (binding 100,000 codes and names as text
# arrays cost more than inserting them), opens the missing accounts,
# checks that existing ones carry a payable's rules, and answers one row of two id arrays.
_OPEN_PAYABLES = text("""
WITH wanted AS (
    SELECT CAST(:prefix AS varchar) || CAST(u AS varchar) || CAST(:suffix AS varchar) AS code,
        u AS user_id
    FROM unnest(CAST(:user_ids AS bigint[])) AS u
), opened AS (
    INSERT INTO ledger_accounts (
        code, name, type, currency, debits_posted, credits_posted, debits_pending,
        credits_pending, version, debits_must_not_exceed_credits,
        credits_must_not_exceed_debits, created_at)
    SELECT code, 'Owed to solver ' || CAST(user_id AS varchar), :type, :currency, 0, 0, 0, 0, 0,
        true, false, :created_at
    FROM wanted
    ON CONFLICT (code) DO NOTHING
    RETURNING id, code
), found AS (
    SELECT CAST(split_part(code, ':', :id_part) AS bigint) AS user_id, id, code, true AS payable
    FROM opened
    UNION ALL
    SELECT w.user_id, a.id, a.code,
        a.type = :type AND a.currency = :currency AND a.debits_must_not_exceed_credits
        AND NOT a.credits_must_not_exceed_debits
    FROM wanted AS w JOIN ledger_accounts AS a ON a.code = w.code
)
SELECT array_agg(user_id) AS user_ids, array_agg(id) AS ids,
    min(code) FILTER (WHERE NOT payable) AS conflict
FROM found
""").bindparams(bindparam("created_at", type_=UTCDateTime()))


def _payables_postgresql(session: Session, user_ids: list[int], currency: str) -> dict[int, int]:
    if any(isinstance(u, bool) or not isinstance(u, int) or u <= 0 for u in user_ids):
        raise InvalidAccount("payables belong to users: positive integer ids")
    # The codes differ only by the id: the longest is checked (and its account opened) alone.
    top = max(user_ids)
    found: dict[int, int] = {top: payable(session, top, currency).id}
    row = session.execute(
        _OPEN_PAYABLES,
        {"user_ids": user_ids, "prefix": PAYABLE_PREFIX, "suffix": f":{currency.lower()}",
         "id_part": PAYABLE_PREFIX.count(":") + 1, "created_at": utcnow(),
         "type": AccountType.LIABILITY.value, "currency": currency},
    ).one()  # fmt: skip
    if row.conflict is not None:
        raise AccountConflict(
            f"account {row.conflict} exists with other rules than a payable in {currency}"
        )
    found.update(zip(row.user_ids or (), row.ids or (), strict=True))
    missing = [u for u in user_ids if u not in found]
    if missing:  # opened by a transaction that committed while this statement ran
        found.update(_payables_generic(session, missing, currency))
    return {user_id: found[user_id] for user_id in user_ids}


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
