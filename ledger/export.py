"""Exports an accountant can check with their own tools: CSV and an hledger journal."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.currencies import exponent as currency_exponent
from ledger.models import Account, Transfer, TransferStatus
from ledger.reading import transfers_in_order

#: ``progress(rows_written)`` is called every PROGRESS_EVERY transfers read, and at the end.
Progress = Callable[[int], None]
PROGRESS_EVERY = 1000

CSV_COLUMNS = [
    "transfer_id", "journal_id", "key", "code", "status", "effective_at", "posted_at",
    "recorded_at", "debit_account", "credit_account", "amount_minor", "currency", "reference",
    "reverses_id", "recorded_by",
]  # fmt: skip


def format_minor(amount: int, currency: str, *, grouped: bool = False) -> str:
    """12345 USD -> '123.45'; 500 JPY -> '500'; grouped: 1234567 USD -> '12,345.67'.

    Exact: no floats involved.
    """
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    whole, fraction = digits[: len(digits) - exponent], digits[len(digits) - exponent :]
    if grouped:
        whole = f"{int(whole):,}"
    return f"{sign}{whole}.{fraction}" if exponent else f"{sign}{whole}"


def _account_codes(session: Session) -> dict[int, str]:
    return {
        account_id: code for account_id, code in session.execute(select(Account.id, Account.code))
    }


def export_csv(
    session: Session, out: TextIO, *, progress: Progress | None = None,
    every: int = PROGRESS_EVERY, start: datetime | None = None, end: datetime | None = None,
) -> int:  # fmt: skip
    """Write every transfer (or those effective from ``start`` to ``end``) as one CSV row;
    returns the number of rows.

    ``progress(rows)`` is called after every ``every`` transfers and once at the end.
    """
    codes = _account_codes(session)
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for read, t in enumerate(transfers_in_order(session, start=start, end=end), start=1):
        writer.writerow(
            [
                t.id, t.journal_id, t.key, t.code, t.status, t.effective_at.isoformat(),
                t.posted_at.isoformat() if t.posted_at else "", t.recorded_at.isoformat(),
                codes[t.debit_account_id], codes[t.credit_account_id], t.amount, t.currency,
                t.reference, t.reverses_id or "", t.recorded_by,
            ]
        )  # fmt: skip
        count += 1
        if progress is not None and read % every == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return count


def export_hledger(
    session: Session, out: TextIO, *, progress: Progress | None = None,
    every: int = PROGRESS_EVERY, start: datetime | None = None, end: datetime | None = None,
) -> int:  # fmt: skip
    """Write an hledger / ledger-cli journal; returns the number of transactions.

    Posted transfers are cleared (``*``) on the date they were posted, pending ones are marked
    ``!`` on the date they were recorded, voided ones are left out. ``hledger bal -C`` then
    gives the same balances as the trial balance. ``progress(transactions)`` is called after
    every ``every`` transfers read (voided ones included) and once at the end.
    """
    codes = _account_codes(session)
    for currency in session.scalars(select(Account.currency).distinct().order_by(Account.currency)):
        out.write(f"commodity {format_minor(100000, currency)} {currency}\n")
    out.write("\n")
    count = 0
    for read, t in enumerate(transfers_in_order(session, start=start, end=end), start=1):
        if t.status != TransferStatus.VOIDED:
            _write_transaction(out, t, codes)
            count += 1
        if progress is not None and read % every == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return count


def _write_transaction(out: TextIO, t: Transfer, codes: dict[int, str]) -> None:
    cleared = t.status == TransferStatus.POSTED
    when = t.posted_at if cleared else t.recorded_at
    mark = "*" if cleared else "!"
    amount = format_minor(t.amount, t.currency)
    out.write(f"{when.date().isoformat()} {mark} {t.code} ({t.key})\n")
    out.write(f"    ; transfer:{t.id} journal:{t.journal_id} reference:{t.reference}\n")
    out.write(f"    {codes[t.debit_account_id]}  {amount} {t.currency}\n")
    out.write(f"    {codes[t.credit_account_id]}  -{amount} {t.currency}\n\n")
