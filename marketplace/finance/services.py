"""The trial balance: totals per kind of account and currency, and the accounts of a kind.

At a real marketplace's size there is an account per solver (over 100,000), so the page shows
one line per (type, kind, currency) — the sums of the accounts' counters, GROUP BY in SQL — and
a drill-down lists the accounts of one line a keyset page at a time. As of a past moment, the
counters now less what was posted after it (read through the index on ``posted_at``): cheap
for recent moments; the older the moment, the more transfers it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select

import ledger
from marketplace.accounts.models import User
from marketplace.accounts.services import require_platform_finance
from marketplace.extensions import db
from marketplace.finance.sql import account_kind
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page

Account, Transfer = ledger.Account, ledger.Transfer


@dataclass(frozen=True)
class TrialBalanceGroup:
    """The accounts of one type, kind and currency, their posted debits and credits summed."""

    type: str
    kind: str
    currency: str
    accounts: int
    debits: int
    credits: int

    @property
    def balance(self) -> int:
        return self.debits - self.credits


@dataclass(frozen=True)
class TrialBalance:
    as_of: datetime | None
    groups: list[TrialBalanceGroup]

    @property
    def totals(self) -> dict[str, tuple[int, int]]:
        """(debits, credits) per currency: the two always agree when the book is right."""
        totals: dict[str, tuple[int, int]] = {}
        for group in self.groups:
            debits, credits = totals.get(group.currency, (0, 0))
            totals[group.currency] = (debits + group.debits, credits + group.credits)
        return dict(sorted(totals.items()))

    @property
    def balanced(self) -> bool:
        return all(debits == credits for debits, credits in self.totals.values())


def _posted_after(as_of: datetime, key, *conditions) -> dict[tuple, tuple[int, int]]:  # noqa: ANN001
    """{key: (debits, credits)} posted after ``as_of``, grouped by ``key`` of the account."""
    found: dict[tuple, list[int]] = {}
    for side, column in enumerate((Transfer.debit_account_id, Transfer.credit_account_id)):
        rows = db.session.execute(
            select(*key, func.sum(Transfer.amount))
            .join(Account, Account.id == column)
            .where(
                Transfer.status == ledger.TransferStatus.POSTED,
                Transfer.posted_at > as_of,
                *conditions,
            )
            .group_by(*key)
        )
        for *group, amount in rows:
            found.setdefault(tuple(group), [0, 0])[side] += int(amount)
    return {group: (d, c) for group, (d, c) in found.items()}


def trial_balance(actor: User, as_of: datetime | None = None) -> TrialBalance:
    """Posted debits and credits per type, kind and currency, now or as of a moment (platform
    finance staff only)."""
    require_platform_finance(actor)
    kind = account_kind(Account.code)
    key = (Account.type, kind, Account.currency)
    rows = db.session.execute(
        select(
            *key,
            func.count(),
            func.coalesce(func.sum(Account.debits_posted), 0),
            func.coalesce(func.sum(Account.credits_posted), 0),
        )
        .group_by(*key)
        .order_by(Account.currency, Account.type, kind)
    ).all()
    later = _posted_after(as_of, key) if as_of is not None else {}
    groups = []
    for type_, kind_, currency, count, debits, credits in rows:
        after_debits, after_credits = later.get((type_, kind_, currency), (0, 0))
        groups.append(
            TrialBalanceGroup(
                type_,
                kind_,
                currency,
                count,
                int(debits) - after_debits,
                int(credits) - after_credits,
            )  # fmt: skip
        )
    return TrialBalance(as_of, groups)


def trial_balance_accounts(
    actor: User,
    type_: str,
    kind: str,
    currency: str,
    as_of: datetime | None = None,
    cursor: str | None = None,
    per_page: int = PER_PAGE,
) -> KeysetPage[ledger.TrialBalanceLine]:
    """The accounts of one trial balance line, by code, a keyset page at a time."""
    require_platform_finance(actor)
    query = select(Account).where(
        Account.type == type_,
        Account.currency == currency,
        account_kind(Account.code) == kind,
    )
    page = keyset_page(query, [Account.code], cursor=cursor, per_page=per_page, descending=False,
                       scalars=True)  # fmt: skip
    ids = [account.id for account in page.items]
    later = _posted_after(as_of, (Account.id,), Account.id.in_(ids)) if as_of and ids else {}
    lines = []
    for account in page.items:
        after_debits, after_credits = later.get((account.id,), (0, 0))
        lines.append(
            ledger.TrialBalanceLine(
                account.code,
                account.type,
                account.currency,
                account.debits_posted - after_debits,
                account.credits_posted - after_credits,
            )  # fmt: skip
        )
    return replace(page, items=lines)
