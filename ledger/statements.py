"""An account's statement and its balance at a time, read from the balances transfers recorded.

Every transfer row records the posted balances its write left on its two accounts
(``debit_balance_after`` / ``credit_balance_after``), the account's version after that write
(``debit_version`` / ``credit_version``) and the moment of the write (``written_at``); see
ledger.models.Transfer. So a statement page is two short index range scans, whatever the length
of the history, and a balance at a time is one index lookup per side: nothing is re-summed.

Order: per account, (version, id) is the order of the writes. A pending transfer that is later
posted takes its place at the moment it was posted, which is when its amount entered the posted
balance; the transfers of one journal share a version and follow each other by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, literal, select, tuple_, union_all
from sqlalchemy.orm import Session

from ledger.checks import utc
from ledger.errors import AccountNotFound
from ledger.models import Account, Transfer, TransferStatus

transfers = Transfer.__table__

#: (version, transfer id): the position of a transfer in its account's write order.
StatementKey = tuple[int, int]


@dataclass(frozen=True)
class StatementRow:
    """One posted transfer as the account sees it, and the posted balance it left.

    ``debit`` / ``credit``: the amount on the account's side (the other is 0). ``balance``:
    the account's posted balance, debits minus credits, right after this transfer.
    """

    transfer_id: int
    journal_id: int
    version: int
    code: str
    reference: str
    counterparty_id: int
    debit: int
    credit: int
    balance: int
    effective_at: datetime
    posted_at: datetime
    written_at: datetime

    @property
    def key(self) -> StatementKey:
        """This row's keyset key: pass the last row's as ``before`` for the next page."""
        return (self.version, self.transfer_id)


def _side(account_id: int, debit: bool) -> tuple:
    """The account's own columns on one side of its transfers: (account, version, balance)."""
    if debit:
        return (
            transfers.c.debit_account_id,
            transfers.c.debit_version,
            transfers.c.debit_balance_after,
        )
    return (
        transfers.c.credit_account_id,
        transfers.c.credit_version,
        transfers.c.credit_balance_after,
    )


def _side_page(account_id: int, debit: bool, before: StatementKey | None, limit: int) -> Select:
    account, version, balance = _side(account_id, debit)
    other = transfers.c.credit_account_id if debit else transfers.c.debit_account_id
    zero = literal(0).label("credit" if debit else "debit")
    amount = transfers.c.amount.label("debit" if debit else "credit")
    query = (
        select(
            transfers.c.id.label("transfer_id"),
            transfers.c.journal_id,
            version.label("version"),
            transfers.c.code,
            transfers.c.reference,
            other.label("counterparty_id"),
            amount if debit else zero,
            zero if debit else amount,
            balance.label("balance"),
            transfers.c.effective_at,
            transfers.c.posted_at,
            transfers.c.written_at,
        )
        .where(account == account_id, transfers.c.status == TransferStatus.POSTED)
        .order_by(version.desc(), transfers.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(tuple_(version, transfers.c.id) < tuple_(*before))
    return query


def _nested(query: Select) -> Select:
    """``query`` as a subquery: SQLite refuses ORDER BY / LIMIT on a UNION's members."""
    inner = query.subquery()
    return select(inner)


def _check_account(session: Session, account_id: int) -> None:
    if session.get(Account, account_id) is None:
        raise AccountNotFound(account_id)


def statement_page(
    session: Session, account_id: int, *, before: StatementKey | None = None, limit: int = 50
) -> list[StatementRow]:
    """Up to ``limit`` posted transfers of the account, newest first in write order.

    ``before`` is the ``key`` of the last row of the previous page (None for the first page);
    ask for ``limit + 1`` rows to learn whether another page follows. Each row carries the
    running balance the transfer left, as recorded at its write. One statement: the newest
    ``limit`` rows of each side, read from the (account, version, id) indexes, then merged.
    AccountNotFound for an unknown account.
    """
    if limit < 1:
        return []
    sides = union_all(
        *(_nested(_side_page(account_id, debit, before, limit)) for debit in (True, False))
    )
    merged = sides.subquery()
    rows = session.execute(
        select(merged).order_by(merged.c.version.desc(), merged.c.transfer_id.desc()).limit(limit)
    ).all()
    if not rows:
        _check_account(session, account_id)
    return [StatementRow(**row._mapping) for row in rows]


def balance_as_of(session: Session, account_id: int, at: datetime) -> int:
    """The account's posted balance (debits minus credits) as the book stood at ``at``.

    "As the book stood": the balance after the last write to the account at or before ``at``,
    by the moment of the write (``written_at``, taken once the account is locked, so it rises
    with the account's writes). It is not a balance by ``effective_at``, which a caller may set
    in the past: a transfer recorded today with last month's effective date is not in the
    balance as of last month, because last month the book did not hold it. A pending transfer's
    rows count too: each write records the posted balance at that moment (a pending amount is
    not in it until the transfer is posted). 0 before the first write. One index lookup per
    side on (account, written_at, id): writes share a moment only within one journal, where
    ids follow the order of writing. AccountNotFound for an unknown account.
    """
    at = utc(at)
    latest = []
    for debit in (True, False):
        account, version, balance = _side(account_id, debit)
        latest.append(
            select(
                balance.label("balance"),
                version.label("version"),
                transfers.c.id.label("transfer_id"),
                transfers.c.written_at,
            )
            .where(account == account_id, transfers.c.written_at <= at)
            .order_by(transfers.c.written_at.desc(), transfers.c.id.desc())
            .limit(1)
        )
    both = union_all(*(_nested(query) for query in latest)).subquery()
    found = session.execute(
        select(both.c.balance)
        .order_by(both.c.written_at.desc(), both.c.version.desc(), both.c.transfer_id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if found is None:
        _check_account(session, account_id)
        return 0
    return int(found)
