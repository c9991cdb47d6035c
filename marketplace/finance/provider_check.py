"""Reconciliation against the payment provider itself: its payout transfers for a period,
matched to payout lines, and every one the book does not match.

The book's side alone cannot see what happened only at the provider (a transfer reversed from
Stripe's dashboard, a transfer whose answer was lost). So the provider is asked for the
transfers created in the period (a day's margin either side, so a transfer made just before
its line's ``sent_at`` is not taken for missing) and each is matched to its payout line by the
id the book recorded, else by ``metadata.payout_line_id``. Listed:

- paid at the provider but not in the book (the line still in flight, or owed again: it may be
  paid twice);
- reversed at the provider (in full or in part) but paid in the book, or the other way round;
- amounts or currencies that differ, and a second transfer for a line paid by another one;
- transfers that name no line of ours, and paid lines of the period the provider does not have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from ledger import as_utc
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.payments.provider import ProviderError, ProviderTransfer
from marketplace.payments.registry import current_provider
from marketplace.payouts.models import LineStatus, PayoutAccount, PayoutLine
from marketplace.payouts.settlement import OPEN

log = logging.getLogger(__name__)
MARGIN = timedelta(days=1)
#: Days a period may name: no payout here is older, and the margin stays inside the calendar.
EARLIEST, LATEST = date(2000, 1, 1), date(9999, 12, 30)
DEFAULT_DAYS = 30
MAX_DAYS = 366
IN_LIST = 1000  # ids per IN list: databases cap bound parameters
SETTLED_OWED = (LineStatus.FAILED, LineStatus.VOIDED, LineStatus.RELEASED)


@dataclass(frozen=True)
class TransferDifference:
    kind: str
    message: str
    amount: int
    currency: str
    payout_line_id: int | None = None
    provider_transfer_id: str | None = None


@dataclass
class ProviderCheck:
    provider: str
    start: date
    end: date
    transfers: int = 0  # how many the provider listed for the period (with its margin)
    error: str | None = None  # the provider could not be asked: nothing is known
    differences: list[TransferDifference] = field(default_factory=list)


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The days to check (UTC, both included): by default the last 30."""
    end = end or datetime.now(UTC).date()
    for name, day in (("end", end), ("start", start)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise Invalid(
                "Choose a period of one day to a year.",
                {name: [f"A day from {EARLIEST.isoformat()} to {LATEST.isoformat()}."]},
            )
    start = start or max(EARLIEST, end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end or (end - start).days >= MAX_DAYS:
        raise Invalid(
            "Choose a period of one day to a year.",
            {"start": [f"From 1 to {MAX_DAYS} days, the start on or before the end."]},
        )
    return start, end


def check_provider(start_day: date, end_day: date) -> ProviderCheck:
    """The provider's payout transfers of the period against the payout lines."""
    provider = current_provider()
    check = ProviderCheck(provider.name, start_day, end_day)
    start = datetime.combine(start_day, time.min, UTC)
    end = datetime.combine(end_day, time.max, UTC)
    try:
        listed = provider.list_transfers(start - MARGIN, end + MARGIN)
    except ProviderError as error:
        check.error = f"{provider.name} could not be asked: {error}"
        return check
    check.transfers = len(listed)
    lines = _lines(provider.name, listed, start, end)
    by_transfer = {line.provider_transfer_id: line for line in lines.values()}
    at_provider = {t.id for t in listed}
    for transfer in listed:
        line = by_transfer.get(transfer.id) or lines.get(transfer.payout_line_id or 0)
        if line is None:
            if start <= transfer.created <= end:
                check.differences.append(_unknown(transfer))
        elif start <= transfer.created <= end or _in(line, start, end):
            check.differences.extend(_compare(transfer, line))
    for line in lines.values():
        paid = line.status in (LineStatus.PAID, LineStatus.REVERSED)
        if paid and _in(line, start, end) and line.provider_transfer_id not in at_provider:
            check.differences.append(
                TransferDifference(
                    "missing_at_provider",
                    f"Payout line {line.id} is {line.status} in the book by transfer "
                    f"{line.provider_transfer_id}, which {provider.name} does not have.",
                    line.amount,
                    line.currency,
                    line.id,
                    line.provider_transfer_id,
                )
            )
    check.differences.sort(key=lambda d: (d.payout_line_id or 0, d.provider_transfer_id or ""))
    return check


def _sent_at(line: PayoutLine) -> datetime | None:
    when = line.sent_at or line.resolved_at
    return as_utc(when) if when is not None else None


def _in(line: PayoutLine, start: datetime, end: datetime) -> bool:
    when = _sent_at(line)
    return when is not None and start <= when <= end


def _lines(
    provider: str, listed: list[ProviderTransfer], start: datetime, end: datetime
) -> dict[int, PayoutLine]:
    """The payout lines the listed transfers name, and the period's paid ones, by id."""
    base = (
        select(PayoutLine)
        .join(PayoutAccount, PayoutAccount.id == PayoutLine.payout_account_id)
        .where(PayoutAccount.provider == provider)
    )
    sent = func.coalesce(PayoutLine.sent_at, PayoutLine.resolved_at)
    found = {
        line.id: line
        for line in db.session.scalars(
            base.where(
                PayoutLine.status.in_((LineStatus.PAID, LineStatus.REVERSED)),
                sent.between(start, end),
            )
        )
    }
    named = sorted({t.payout_line_id for t in listed if t.payout_line_id} - set(found))
    transfer_ids = sorted({t.id for t in listed})
    for ids, column in ((named, PayoutLine.id), (transfer_ids, PayoutLine.provider_transfer_id)):
        for first in range(0, len(ids), IN_LIST):
            chunk = ids[first : first + IN_LIST]
            found.update(
                (line.id, line) for line in db.session.scalars(base.where(column.in_(chunk)))
            )
    return found


def _unknown(transfer: ProviderTransfer) -> TransferDifference:
    named = f"names payout line {transfer.payout_line_id}, which" if transfer.payout_line_id else ""
    return TransferDifference(
        "unknown_transfer",
        f"Transfer {transfer.id} at the provider {named or 'names no payout line: it'} is not "
        "one of the book's payouts.",
        transfer.amount,
        transfer.currency,
        transfer.payout_line_id,
        transfer.id,
    )


def _compare(transfer: ProviderTransfer, line: PayoutLine) -> list[TransferDifference]:
    return [
        TransferDifference(
            kind,
            f"Transfer {transfer.id} of payout line {line.id}: {message}",
            transfer.amount if amount is None else amount,
            transfer.currency,
            line.id,
            transfer.id,
        )
        for kind, message, amount in _mismatches(transfer, line)
    ]


def _mismatches(transfer: ProviderTransfer, line: PayoutLine) -> list[tuple[str, str, int | None]]:
    """(kind, message, amount or None for the transfer's) for each way they disagree."""
    if line.provider_transfer_id not in (None, transfer.id):
        return [
            ("second_transfer", f"the book paid the line by {line.provider_transfer_id}.", None)
        ]
    found: list[tuple[str, str, int | None]] = []
    if transfer.amount != line.amount or transfer.currency != line.currency:
        message = (
            f"the provider has {transfer.amount} {transfer.currency}, "
            f"the book {line.amount} {line.currency}."
        )
        found.append(("amount_differs", message, transfer.amount - line.amount))
    status = line.status
    if transfer.reversed_in_full:
        if status in (LineStatus.PAID, *OPEN):
            found.append(("reversed_at_provider", f"reversed there, {status} in the book.", None))
    elif transfer.amount_reversed:
        message = (
            f"the provider reversed {transfer.amount_reversed} of {transfer.amount}; the book "
            f"has the line {status}: settle the rest by hand."
        )
        found.append(("partially_reversed", message, transfer.amount_reversed))
    elif status == LineStatus.REVERSED:
        found.append(("reversed_in_book_only", "reversed in the book, not there.", None))
    elif status in OPEN:
        message = f"paid at the provider, still {status} in the book."
        found.append(("paid_at_provider_not_in_book", message, None))
    elif status in SETTLED_OWED:
        message = (
            f"paid at the provider, but {status} in the book: the amount is owed again and "
            "may be paid twice."
        )
        found.append(("paid_at_provider_not_in_book", message, None))
    return found


def check_recent_and_alert(days: int = 2) -> ProviderCheck:
    """The scheduler's nightly check of the last ``days`` days: differences, or a provider out
    of reach, are logged at ERROR and every platform admin is told in the app."""
    from marketplace.operations.alerts import alert_platform_admins

    start, end = period(datetime.now(UTC).date() - timedelta(days=days - 1), None)
    check = check_provider(start, end)
    if check.error is None and not check.differences:
        return check
    problems = [check.error] if check.error else [d.message for d in check.differences]
    log.error("provider reconciliation %s to %s: %s", start, end, "; ".join(problems[:20]))
    alert_platform_admins(
        kind="provider_differs",
        title=f"The payment provider and the book disagree ({len(problems)})",
        body="\n".join(problems[:50]),
        link=f"/finance/reconciliation?start={start.isoformat()}&end={end.isoformat()}",
    )
    return check
