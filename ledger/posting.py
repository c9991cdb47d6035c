"""Writing to the ledger: open accounts, post journals, resolve pending transfers, reverse.

Every function works inside the caller's transaction and never commits: the caller (a service)
owns the unit of work and must roll back when a LedgerError is raised.

Posting locks every touched account row in id order, checks the overdraft rules on the locked
counters, then writes the journal, its transfers and the new counters. On PostgreSQL all of it
is one call of a function that migration 0011 installs (ledger.pg_posting): one round trip,
set-based for a journal of any size. Elsewhere (SQLite, one writer at a time) it is one
SQLAlchemy Core statement per step, built once, not per call, so that posting costs little
Python. Both paths refuse the same requests with the same LedgerErrors.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Insert,
    Select,
    String,
    Table,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger import pg_posting
from ledger.base import UTCDateTime, utcnow
from ledger.checks import (
    NewTransfer,
    account_rules,
    check_code,
    check_journal,
    check_reversed_exist,
    check_shape,
    is_id,
    utc,
)
from ledger.constraints import refusals
from ledger.errors import (
    AccountConflict,
    AccountNotFound,
    CurrencyMismatch,
    EmptyJournal,
    IdempotencyConflict,
    InsufficientFunds,
    NotPending,
    NotReversible,
    TransferNotFound,
)
from ledger.models import Account, AccountType, Journal, Transfer, TransferStatus

accounts = Account.__table__
journals = Journal.__table__
transfers = Transfer.__table__

#: Accounts per statement when opening or locking many (one or more parameters each).
_PER_STATEMENT = 1_000


@dataclass(frozen=True)
class PostedJournal:
    journal_id: int
    transfer_ids: tuple[int, ...]
    replayed: bool

    @property
    def transfer_id(self) -> int:
        """The id of the only transfer of a one-transfer journal."""
        if len(self.transfer_ids) != 1:
            raise ValueError("journal holds more than one transfer")
        return self.transfer_ids[0]


def _insert_or_ignore(session: Session, table: Table, index_elements: list[str]) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    raise NotImplementedError(f"ledger does not support {dialect}")


def _new_account(code: str, name: str, wanted: dict[str, object], now: datetime) -> dict:
    return {
        "code": code,
        "name": name,
        "debits_posted": 0,
        "credits_posted": 0,
        "debits_pending": 0,
        "credits_pending": 0,
        "version": 0,
        "created_at": now,
        **wanted,
    }


def open_account(
    session: Session,
    code: str,
    type: AccountType | str,
    currency: str,
    *,
    name: str = "",
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """Return the account with this code, creating it if needed (safe under concurrency).

    An existing account must match the type, currency and overdraft rule asked for.
    """
    wanted = account_rules(
        type, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits
    )
    check_code(code, wanted["type"], name)
    statement = _insert_or_ignore(session, accounts, ["code"]).values(
        _new_account(code, name, wanted, utcnow())
    )
    session.execute(statement)
    account = session.scalars(select(Account).where(Account.code == code)).one()
    found = {key: getattr(account, key) for key in wanted}
    if found != wanted:
        raise AccountConflict(f"account {code} exists as {found}, not {wanted}")
    return account


# PostgreSQL opens any number of accounts in two statements, with the codes and names bound as
# arrays (one parameter each); other databases take a thousand accounts per statement.
_OPEN_ACCOUNTS = text("""
INSERT INTO ledger_accounts (
    code, name, type, currency, debits_posted, credits_posted, debits_pending, credits_pending,
    version, debits_must_not_exceed_credits, credits_must_not_exceed_debits, created_at)
SELECT t.code, t.name, :type, :currency, 0, 0, 0, 0, 0, :debits_must_not_exceed_credits,
    :credits_must_not_exceed_debits, :created_at
FROM unnest(CAST(:codes AS varchar[]), CAST(:names AS varchar[]))
    WITH ORDINALITY AS t(code, name, n)
ORDER BY t.n
ON CONFLICT (code) DO NOTHING
""").bindparams(bindparam("created_at", type_=UTCDateTime()))


def open_accounts(
    session: Session,
    names: Mapping[str, str],
    type: AccountType | str,
    currency: str,
    *,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> dict[str, int]:
    """``open_account`` for many accounts of one type, currency and overdraft rule at once.

    ``names`` maps each account code to its name; returns ``{code: account id}``. Existing
    accounts are kept (they must match, as in ``open_account``); the others are created in the
    order given, many per statement instead of two round trips per account.
    """
    wanted = account_rules(
        type, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits
    )
    codes = list(names)
    for code in codes:
        check_code(code, wanted["type"], names[code])
    now = utcnow()
    columns = select(accounts.c.id, accounts.c.code, *(accounts.c[key] for key in wanted))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            _OPEN_ACCOUNTS,
            {**wanted, "codes": codes, "names": [names[c] for c in codes], "created_at": now},
        )
        any_code = any_(cast(literal(codes), postgresql.ARRAY(String)))
        rows = list(session.execute(columns.where(accounts.c.code == any_code)))
    else:
        insert_new, rows = _insert_or_ignore(session, accounts, ["code"]), []
        for start in range(0, len(codes), _PER_STATEMENT):
            chunk = codes[start : start + _PER_STATEMENT]
            session.execute(insert_new, [_new_account(c, names[c], wanted, now) for c in chunk])
            rows += session.execute(columns.where(accounts.c.code.in_(chunk)))
    found: dict[str, int] = {}
    for row in rows:
        have = {key: getattr(row, key) for key in wanted}
        if have != wanted:
            raise AccountConflict(f"account {row.code} exists as {have}, not {wanted}")
        found[row.code] = row.id
    return {code: found[code] for code in codes}


def find_account(session: Session, code: str) -> Account:
    account = session.scalars(select(Account).where(Account.code == code)).one_or_none()
    if account is None:
        raise AccountNotFound(code)
    return account


def _fingerprint(batch: Sequence[NewTransfer]) -> str:
    canonical = json.dumps(
        [
            [t.key, t.debit, t.credit, t.amount, t.code, t.reference, t.pending, t.reverses]
            for t in batch
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Counters:
    """The locked state of one account while a journal is applied to it."""

    __slots__ = ("row", "dp", "cp", "dpend", "cpend")

    def __init__(self, row) -> None:
        self.row = row
        self.dp, self.cp = row.debits_posted, row.credits_posted
        self.dpend, self.cpend = row.debits_pending, row.credits_pending

    def breaks_rule(self) -> int | None:
        """None if the overdraft rule holds, else what was available before this journal."""
        row = self.row
        if row.debits_must_not_exceed_credits and self.dp + self.dpend > self.cp:
            return row.credits_posted - row.debits_posted - row.debits_pending
        if row.credits_must_not_exceed_debits and self.cp + self.cpend > self.dp:
            return row.debits_posted - row.credits_posted - row.credits_pending
        return None

    def params(self) -> dict[str, int]:
        return {
            "_id": self.row.id,
            "_dp": self.dp,
            "_cp": self.cp,
            "_dpend": self.dpend,
            "_cpend": self.cpend,
        }


_UPDATE_COUNTERS = (
    update(accounts)
    .where(accounts.c.id == bindparam("_id"))
    .values(
        debits_posted=bindparam("_dp"),
        credits_posted=bindparam("_cp"),
        debits_pending=bindparam("_dpend"),
        credits_pending=bindparam("_cpend"),
        version=accounts.c.version + 1,
    )
)


# Statements built once: building and cache-keying a statement on every call cost more Python
# time than the database spends running it.
_INSERT_TRANSFER = insert(transfers).returning(transfers.c.id)
_INSERT_TRANSFERS = insert(transfers).returning(transfers.c.id, sort_by_parameter_order=True)
_JOURNAL_COLUMNS = ("key", "payload_sha256", "description", "recorded_by", "recorded_at")
_INSERT_JOURNAL = {
    name: dialect_insert(journals)
    .on_conflict_do_nothing(index_elements=["key"])
    .values({column: bindparam(column) for column in _JOURNAL_COLUMNS})
    .returning(journals.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


@functools.lru_cache(maxsize=64)
def _lock_statement(count: int) -> Select:
    """SELECT ... FOR UPDATE of ``count`` accounts in id order, with one parameter per id.

    Plain parameters, not an expanding IN or an array: both cost more Python per call.
    """
    ids = [bindparam(f"id_{i}", type_=BigInteger) for i in range(count)]
    return select(accounts).where(accounts.c.id.in_(ids)).order_by(accounts.c.id).with_for_update()


# More accounts than _PER_STATEMENT would need more parameters than a statement may carry
# (SQLite: 32,766): they are locked in consecutive slices of the sorted ids, which keeps the
# id order.
def _lock_rows(connection: Connection, ordered: list[int]) -> list:
    if len(ordered) <= _PER_STATEMENT:
        params = {f"id_{i}": account_id for i, account_id in enumerate(ordered)}
        return connection.execute(_lock_statement(len(ordered)), params).all()
    rows = []
    for start in range(0, len(ordered), _PER_STATEMENT):
        rows += _lock_rows(connection, ordered[start : start + _PER_STATEMENT])
    return rows


def _lock_accounts(session: Session, ids: set[int]) -> dict[int, _Counters]:
    ordered = sorted(ids)
    rows = _lock_rows(session.connection(), ordered)
    found = {row.id: _Counters(row) for row in rows}
    for account_id in ordered:
        if account_id not in found:
            raise AccountNotFound(account_id)
    return found


def _update_counters(connection: Connection, locked: dict[int, _Counters]) -> None:
    connection.execute(_UPDATE_COUNTERS, [counters.params() for counters in locked.values()])


def _expire_accounts(session: Session, locked: dict[int, _Counters]) -> None:
    """Expire loaded Account objects whose counters were just written behind the ORM's back."""
    if not session.identity_map:
        return
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Account) and obj.id in locked:
            session.expire(obj)


def _write_counters(session: Session, locked: dict[int, _Counters]) -> None:
    _update_counters(session.connection(), locked)
    _expire_accounts(session, locked)


def _write_generic(
    connection: Connection, journal: dict, rows: list[dict], locked: dict[int, _Counters]
) -> pg_posting.Written:
    """Journal, transfers, counters as three statements (SQLite: no round trips to save)."""
    journal_id = connection.execute(
        _INSERT_JOURNAL[connection.dialect.name], journal
    ).scalar_one_or_none()
    if journal_id is None:
        return None
    for row in rows:
        row["journal_id"] = journal_id
    if len(rows) == 1:  # no executemany machinery for the common one-transfer journal
        ids = [connection.execute(_INSERT_TRANSFER, rows[0]).scalar_one()]
    else:
        ids = list(connection.execute(_INSERT_TRANSFERS, rows).scalars())
    _update_counters(connection, locked)
    return journal_id, ids


#: The journal columns a replay must repeat, and how IdempotencyConflict names each one.
_REPEATED = {
    "payload_sha256": "transfers",
    "description": "description",
    "recorded_by": "recorded_by",
}


def _replay(session: Session, journal: dict, effective_at: datetime | None) -> PostedJournal | None:
    """The journal first posted under ``journal["key"]``, or None if the key is new.

    A replay must repeat the first request: the same transfers, description and recorded_by,
    and the same effective_at when the caller gives one (left out, it is the time of posting,
    which no retry can repeat). Otherwise IdempotencyConflict says what differs.
    """
    earlier = session.execute(
        select(journals.c.id, *(journals.c[column] for column in _REPEATED)).where(
            journals.c.key == journal["key"]
        )
    ).one_or_none()
    if earlier is None:
        return None
    written = session.execute(
        select(transfers.c.id, transfers.c.effective_at)
        .where(transfers.c.journal_id == earlier.id)
        .order_by(transfers.c.id)
    ).all()
    differs = [
        name for column, name in _REPEATED.items() if getattr(earlier, column) != journal[column]
    ]
    if effective_at is not None and written[0].effective_at != effective_at:
        differs.append("effective_at")
    if differs:
        raise IdempotencyConflict(journal["key"], differs)
    return PostedJournal(earlier.id, tuple(row.id for row in written), replayed=True)


def _keyed(t: NewTransfer, key: str) -> NewTransfer:
    """``t`` with this key (``dataclasses.replace`` costs ten times as much)."""
    return NewTransfer(t.debit, t.credit, t.amount, t.code, t.reference, t.pending, key, t.reverses)


def post_journal(
    session: Session,
    batch: Sequence[NewTransfer],
    *,
    key: str,
    recorded_by: str,
    description: str = "",
    effective_at: datetime | None = None,
) -> PostedJournal:
    """Post the transfers of one business event, all or none.

    Posting the same ``key`` again with the same request returns the first result and writes
    nothing (``replayed=True``). The same key with other transfers, another description or
    recorded_by, or another effective_at (when one is given) raises IdempotencyConflict.
    """
    if not batch:
        raise EmptyJournal("a journal must hold at least one transfer")
    check_journal(key, recorded_by, description)
    batch = [t if t.key else _keyed(t, f"{key}/{index}") for index, t in enumerate(batch)]
    for transfer in batch:
        check_shape(transfer)
    check_reversed_exist(session, batch)
    given_effective_at = utc(effective_at)
    now = utcnow()
    effective_at = given_effective_at or now
    journal = {
        "key": key,
        "payload_sha256": _fingerprint(batch),
        "description": description,
        "recorded_by": recorded_by,
        "recorded_at": now,
    }

    connection = session.connection()
    if connection.dialect.name == "postgresql":
        written = pg_posting.post(connection, journal, batch, effective_at)
    else:
        written = _post_generic(session, connection, journal, batch, effective_at)
    if written is None:
        earlier = _replay(session, journal, given_effective_at)
        if earlier is None:  # only a concurrent rollback of the same key could get here
            raise IdempotencyConflict(key)
        return earlier
    journal_id, ids = written
    _expire_accounts(session, {t.debit for t in batch} | {t.credit for t in batch})
    return PostedJournal(journal_id, tuple(ids), replayed=False)


def _post_generic(
    session: Session,
    connection: Connection,
    journal: dict,
    batch: Sequence[NewTransfer],
    effective_at: datetime,
) -> pg_posting.Written:
    """Lock, check and write with one statement per step (SQLite: no round trips to save).

    None when the journal key is taken, also when the rules refuse the journal: a replay of a
    journal posted earlier must not be refused because the balances moved since.
    """
    locked = _lock_accounts(session, {t.debit for t in batch} | {t.credit for t in batch})
    rows = []
    for t in batch:
        debit, credit = locked[t.debit], locked[t.credit]
        if debit.row.currency != credit.row.currency:
            raise CurrencyMismatch(
                debit.row.code, credit.row.code, debit.row.currency, credit.row.currency
            )
        if t.pending:
            debit.dpend += t.amount
            credit.cpend += t.amount
        else:
            debit.dp += t.amount
            credit.cp += t.amount
        rows.append(
            {
                "key": t.key,
                "debit_account_id": t.debit,
                "credit_account_id": t.credit,
                "currency": debit.row.currency,
                "amount": t.amount,
                "code": t.code,
                "reference": t.reference,
                "status": TransferStatus.PENDING if t.pending else TransferStatus.POSTED,
                "two_phase": t.pending,
                "reverses_id": t.reverses,
                "recorded_by": journal["recorded_by"],
                "effective_at": effective_at,
                "recorded_at": journal["recorded_at"],
                "posted_at": None if t.pending else effective_at,
                "resolved_at": None,
                "debit_balance_after": debit.dp - debit.cp,
                "credit_balance_after": credit.dp - credit.cp,
                "debit_version": debit.row.version + 1,
                "credit_version": credit.row.version + 1,
            }
        )
    for counters in locked.values():
        available = counters.breaks_rule()
        if available is not None:
            taken = connection.execute(
                select(journals.c.id).where(journals.c.key == journal["key"])
            ).first()
            if taken is not None:
                return None
            raise InsufficientFunds(counters.row.code, available, counters.row.currency)
    written_at = utcnow()  # the moment of the write, once the accounts are locked
    for row in rows:
        row["written_at"] = written_at
    with refusals(journal["key"]):
        return _write_generic(connection, journal, rows, locked)


def post_transfer(
    session: Session,
    *,
    debit: int,
    credit: int,
    amount: int,
    code: str,
    key: str,
    recorded_by: str,
    reference: str = "",
    pending: bool = False,
    description: str = "",
    effective_at: datetime | None = None,
) -> PostedJournal:
    """Post one transfer as a journal of its own (its key is the journal's key too)."""
    return post_journal(
        session,
        [NewTransfer(debit, credit, amount, code, reference, pending, key=key)],
        key=key,
        recorded_by=recorded_by,
        description=description,
        effective_at=effective_at,
    )


def _write_moment(session: Session) -> ColumnElement[datetime] | datetime:
    """Now, once the accounts are locked: the database's clock on PostgreSQL, else ours."""
    if session.get_bind().dialect.name == "postgresql":
        return func.clock_timestamp()
    return utcnow()


def _resolve(
    session: Session, transfer_id: int, outcome: TransferStatus, at: datetime | None
) -> None:
    if not is_id(transfer_id):
        raise TransferNotFound(transfer_id)
    when = utc(at) or utcnow()
    first = session.execute(
        select(transfers.c.debit_account_id, transfers.c.credit_account_id).where(
            transfers.c.id == transfer_id
        )
    ).one_or_none()
    if first is None:
        raise TransferNotFound(transfer_id)
    locked = _lock_accounts(session, {first.debit_account_id, first.credit_account_id})
    row = session.execute(
        select(transfers).where(transfers.c.id == transfer_id).with_for_update()
    ).one()
    if row.status == outcome:
        return
    if row.status != TransferStatus.PENDING:
        raise NotPending(f"transfer {transfer_id} is {row.status}, not pending")
    debit, credit = locked[row.debit_account_id], locked[row.credit_account_id]
    debit.dpend -= row.amount
    credit.cpend -= row.amount
    if outcome == TransferStatus.POSTED:
        debit.dp += row.amount
        credit.cp += row.amount
    with refusals(f"transfer {transfer_id}"):
        session.execute(
            update(transfers)
            .where(transfers.c.id == transfer_id)
            .values(
                status=outcome,
                resolved_at=when,
                posted_at=when if outcome == TransferStatus.POSTED else None,
                debit_balance_after=debit.dp - debit.cp,
                credit_balance_after=credit.dp - credit.cp,
                debit_version=debit.row.version + 1,
                credit_version=credit.row.version + 1,
                written_at=_write_moment(session),
            )
        )
        _write_counters(session, locked)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Transfer) and obj.id == transfer_id:
            session.expire(obj)


def post_pending(session: Session, transfer_id: int, *, at: datetime | None = None) -> None:
    """Post a pending transfer in full. Posting it again does nothing.

    The row's balances after become the accounts' posted balances once it is posted: they
    now include its amount (see Transfer.debit_balance_after).
    """
    _resolve(session, transfer_id, TransferStatus.POSTED, at)


def void_pending(session: Session, transfer_id: int, *, at: datetime | None = None) -> None:
    """Release a pending transfer's reservation. Voiding it again does nothing.

    The row's balances after become the accounts' posted balances at the moment it is voided.
    """
    _resolve(session, transfer_id, TransferStatus.VOIDED, at)


# Voiding many pending transfers at once (a rejected payout batch of thousands of lines): the
# same writes as void_pending for each, in id order, as a few statements instead of six each.
_VOID_TRANSFER = (
    update(transfers)
    .where(transfers.c.id == bindparam("_id"))
    .values(
        status=TransferStatus.VOIDED,
        resolved_at=bindparam("_when"),
        posted_at=None,
        debit_balance_after=bindparam("_dba"),
        credit_balance_after=bindparam("_cba"),
        debit_version=bindparam("_dv"),
        credit_version=bindparam("_cv"),
        written_at=bindparam("_written"),
    )
)
#: The counters of many writes at once: the version counts each write, not one.
_SET_COUNTERS = _UPDATE_COUNTERS.values(version=bindparam("_version"))


def _pending_rows(session: Session, ids: list[int]) -> list:
    """The transfers ``ids`` locked FOR UPDATE, in id order, in slices of _PER_STATEMENT."""
    rows = []
    for start in range(0, len(ids), _PER_STATEMENT):
        chunk = ids[start : start + _PER_STATEMENT]
        rows += session.execute(
            select(transfers)
            .where(transfers.c.id.in_(chunk))
            .order_by(transfers.c.id)
            .with_for_update()
        ).all()
    return rows


def void_pending_many(
    session: Session, transfer_ids: Sequence[int], *, at: datetime | None = None
) -> None:
    """``void_pending`` for many transfers as one write, all or none.

    Each transfer gets what ``void_pending`` would have written had they been voided one by one
    in id order: its balances after, and the accounts' versions counted one write each, so
    statements keep their order. Transfers already voided are left as they are; one that is
    posted refuses the whole call (NotPending), an unknown id TransferNotFound.
    """
    ids = sorted(set(transfer_ids))
    for transfer_id in ids:
        if not is_id(transfer_id):
            raise TransferNotFound(transfer_id)
    if not ids:
        return
    when = utc(at) or utcnow()
    first = _pending_rows(session, ids)
    found = {row.id for row in first}
    for transfer_id in ids:
        if transfer_id not in found:
            raise TransferNotFound(transfer_id)
    locked = _lock_accounts(
        session, {r.debit_account_id for r in first} | {r.credit_account_id for r in first}
    )
    versions = {account_id: c.row.version for account_id, c in locked.items()}
    written = _write_moment(session)
    updates = []
    for row in _pending_rows(session, ids):
        if row.status == TransferStatus.VOIDED:
            continue
        if row.status != TransferStatus.PENDING:
            raise NotPending(f"transfer {row.id} is {row.status}, not pending")
        debit, credit = locked[row.debit_account_id], locked[row.credit_account_id]
        debit.dpend -= row.amount
        credit.cpend -= row.amount
        versions[debit.row.id] += 1
        versions[credit.row.id] += 1
        updates.append(
            {
                "_id": row.id,
                "_when": when,
                "_dba": debit.dp - debit.cp,
                "_cba": credit.dp - credit.cp,
                "_dv": versions[debit.row.id],
                "_cv": versions[credit.row.id],
                "_written": written if isinstance(written, datetime) else utcnow(),
            }
        )
    if not updates:
        return
    touched = [
        {**counters.params(), "_version": versions[account_id]}
        for account_id, counters in locked.items()
        if versions[account_id] != counters.row.version
    ]
    with refusals(f"transfers {ids[0]}..{ids[-1]}"):
        session.execute(_void_statement(session), updates)
        session.execute(_SET_COUNTERS, touched)
    _expire_accounts(session, locked)
    voided = {u["_id"] for u in updates}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Transfer) and obj.id in voided:
            session.expire(obj)


def _void_statement(session: Session):  # noqa: ANN202  (an UPDATE)
    """On PostgreSQL each row's written_at is the server's clock at its update, as in
    ``_resolve``; elsewhere the time bound per row."""
    if session.get_bind().dialect.name == "postgresql":
        return _VOID_TRANSFER.values(written_at=func.clock_timestamp())
    return _VOID_TRANSFER


def reverse_transfer(
    session: Session,
    transfer_id: int,
    *,
    key: str,
    recorded_by: str,
    reason: str = "",
) -> PostedJournal:
    """Post a REVERSAL that undoes a posted transfer; it points at the original.

    A transfer is reversed at most once; a reversal is itself not reversible (post a new
    transfer instead). The overdraft rules apply to the reversal like to any transfer.
    """
    original = session.get(Transfer, transfer_id) if is_id(transfer_id) else None
    if original is None:
        raise TransferNotFound(transfer_id)
    if original.status != TransferStatus.POSTED:
        raise NotReversible(f"transfer {transfer_id} is {original.status}, not posted")
    if original.reverses_id is not None:
        raise NotReversible(f"transfer {transfer_id} is itself a reversal")
    return post_journal(
        session,
        [
            NewTransfer(
                debit=original.credit_account_id,
                credit=original.debit_account_id,
                amount=original.amount,
                code="REVERSAL",
                reference=f"transfer:{original.id}",
                key=key,
                reverses=original.id,
            )
        ],
        key=key,
        recorded_by=recorded_by,
        description=reason or f"reversal of transfer {original.id}",
    )
