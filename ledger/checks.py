"""The checks a request passes before the ledger writes anything, each refusal a LedgerError.

They also keep values out of the database that it would refuse with errors of its own: an id
beyond 64 bits, text longer than its column (which only PostgreSQL enforces).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ledger.base import as_utc
from ledger.errors import AccountNotFound, InvalidAccount, InvalidTransfer, TransferNotFound
from ledger.models import Account, AccountType, Journal, Transfer

accounts = Account.__table__
journals = Journal.__table__
transfers = Transfer.__table__

ACCOUNT_CODE = re.compile(r"^[a-z]+(:[A-Za-z0-9_.\-]+)+$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = 2**63 - 1
#: Ids are positive 64-bit integers; a larger Python int cannot even be sent to the database.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class NewTransfer:
    """A transfer to post: ``amount`` minor units from ``debit`` to ``credit`` (account ids).

    ``key`` is the transfer's idempotency key; left empty it becomes ``<journal key>/<index>``.
    ``pending`` reserves the amount until the transfer is posted or voided.
    """

    debit: int
    credit: int
    amount: int
    code: str
    reference: str = ""
    pending: bool = False
    key: str | None = None
    reverses: int | None = None


def _lengths(table: Table, *names: str) -> dict[str, int]:
    return {name: table.c[name].type.length for name in names}


#: The most characters each text column holds: PostgreSQL refuses more, SQLite would keep it.
ACCOUNT_TEXT = _lengths(accounts, "code", "name")
JOURNAL_TEXT = _lengths(journals, "key", "recorded_by")
TRANSFER_TEXT = _lengths(transfers, "key", "code", "reference")


def account_rules(
    type: AccountType | str,
    currency: str,
    debits_must_not_exceed_credits: bool,
    credits_must_not_exceed_debits: bool,
) -> dict[str, object]:
    """The checked type, currency and overdraft rule of accounts to open."""
    type = AccountType(type) if type in AccountType._value2member_map_ else type
    if not isinstance(type, AccountType):
        raise InvalidAccount(f"unknown account type {type!r}")
    if not CURRENCY_CODE.fullmatch(currency):
        raise InvalidAccount(f"currency {currency!r} must be an ISO 4217 code like 'USD'")
    if debits_must_not_exceed_credits and credits_must_not_exceed_debits:
        raise InvalidAccount("an account can carry only one overdraft rule")
    return {
        "type": type.value,
        "currency": currency,
        "debits_must_not_exceed_credits": debits_must_not_exceed_credits,
        "credits_must_not_exceed_debits": credits_must_not_exceed_debits,
    }


def _too_long(values: dict[str, object], limits: dict[str, int]) -> str | None:
    """The first of ``values`` that is not text within its limit, and what it must be."""
    for name, limit in limits.items():
        value = values[name]
        if not isinstance(value, str) or len(value) > limit:
            return f"{name} must be text of at most {limit} characters"
    return None


def check_code(code: str, type: str, name: str) -> None:
    well_formed = isinstance(code, str) and ACCOUNT_CODE.fullmatch(code) is not None
    if not well_formed or not code.startswith(f"{type}:"):
        raise InvalidAccount(f"account code {code!r} must look like '{type}:part:part'")
    problem = _too_long({"code": code, "name": name}, ACCOUNT_TEXT)
    if problem:
        raise InvalidAccount(f"account {code[:40]!r}: its {problem}")


def is_id(value: object) -> bool:
    """Whether ``value`` could be the id of a row: an int, not a bool, in the id range."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


_KEY, _CODE, _REFERENCE = (TRANSFER_TEXT[name] for name in ("key", "code", "reference"))


def check_shape(transfer: NewTransfer) -> None:
    """Refuse a malformed transfer; a plainly well-formed one passes a few cheap tests first."""
    t = transfer
    if (
        type(t.amount) is int
        and type(t.debit) is int
        and type(t.credit) is int
        and 0 < t.amount <= MAX_AMOUNT
        and 0 < t.debit <= MAX_ID
        and 0 < t.credit <= MAX_ID
        and t.debit != t.credit
        and (t.reverses is None or (type(t.reverses) is int and 0 < t.reverses <= MAX_ID))
        and type(t.code) is str
        and 0 < len(t.code) <= _CODE
        and type(t.key) is str
        and len(t.key) <= _KEY
        and type(t.reference) is str
        and len(t.reference) <= _REFERENCE
    ):
        return
    _check_shape(transfer)


def _check_shape(transfer: NewTransfer) -> None:
    amount = transfer.amount
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidTransfer(f"amount must be an integer number of minor units, not {amount!r}")
    if not 0 < amount <= MAX_AMOUNT:
        raise InvalidTransfer(f"amount must be positive, not {amount}")
    for account_id in (transfer.debit, transfer.credit):
        if not is_id(account_id):
            raise AccountNotFound(account_id)
    if transfer.reverses is not None and not is_id(transfer.reverses):
        raise TransferNotFound(transfer.reverses)
    if transfer.debit == transfer.credit:
        raise InvalidTransfer("a transfer needs two different accounts")
    if not transfer.code:
        raise InvalidTransfer("a transfer needs a code such as AWARD")
    problem = _too_long(
        {"key": transfer.key, "code": transfer.code, "reference": transfer.reference},
        TRANSFER_TEXT,
    )
    if problem:
        raise InvalidTransfer(f"a transfer's {problem}")


def check_reversed_exist(session: Session, batch: Sequence[NewTransfer]) -> None:
    """TransferNotFound for a transfer the batch reverses that is not in the book.

    SQLite does not say which foreign key failed, so this is checked before writing.
    """
    wanted = {t.reverses for t in batch if t.reverses is not None}
    if not wanted:
        return
    found = set(session.scalars(select(transfers.c.id).where(transfers.c.id.in_(wanted))))
    for missing in sorted(wanted - found):
        raise TransferNotFound(missing)


def utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC; InvalidTransfer for a naive datetime or something else."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidTransfer(f"expected a timezone-aware datetime, not {value!r}")
    try:
        return as_utc(value)
    except ValueError as error:
        raise InvalidTransfer(str(error)) from error


def check_journal(key: str, recorded_by: str, description: str) -> None:
    if not key:
        raise InvalidTransfer("a journal needs an idempotency key")
    problem = _too_long({"key": key, "recorded_by": recorded_by}, JOURNAL_TEXT)
    if problem:
        raise InvalidTransfer(f"a journal's {problem}")
    if not isinstance(description, str):
        raise InvalidTransfer(f"a journal's description must be text, not {description!r}")
