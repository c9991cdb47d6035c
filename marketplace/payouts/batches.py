"""Payout batches with four eyes.

A platform finance user prepares a batch: every solver owed at least the minimum in the
currency, whose payout account can receive payouts. Preparing reserves each amount with a
pending PAYOUT transfer (payable -> cash), all in one journal, so nothing reserved can be paid
twice or awarded away. A second finance user approves (the preparer is refused); approval
enqueues the job that sends the money (``sending.send_batch``). A rejected batch voids its
reservations and the solvers are owed again.

A line the provider never answered, through every idempotency key ``sending`` tried, waits for
a finance user to release it: its reservation is voided and the solver is owed again, with who
released it and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, String, cast, func, insert, literal, select, update
from sqlalchemy.orm import joinedload

import ledger
from ledger import Account, InsufficientFunds, NewTransfer, format_minor, utcnow
from marketplace.accounts.models import User
from marketplace.accounts.second_factor import step_up
from marketplace.accounts.services import require_platform_finance
from marketplace.audit.log import record, refusals_recorded
from marketplace.db import command, transaction
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.notifications.services import notify
from marketplace.outbox import JobQueue
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page
from marketplace.payments.provider import ProviderError
from marketplace.payments.registry import current_provider
from marketplace.payouts.models import (
    BatchStatus,
    LineStatus,
    PayoutAccount,
    PayoutBatch,
    PayoutLine,
)
from marketplace.payouts.sending import KEY_VERSIONS, SEND_JOB, SEND_TIMEOUT, payout_request
from marketplace.payouts.settlement import OPEN, complete_if_done, lock_line, mark_paid
from marketplace.queue import enqueue

CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_MINIMUM = 10**12
MAX_REASON = 4000


@dataclass(frozen=True)
class Candidate:
    account_id: int  # the solver's payable account
    user_id: int
    payout_account_id: int
    amount: int  # what is owed and funded: available less value shares not paid in yet


def payable_candidates(currency: str, minimum: int) -> list[Candidate]:
    """Solvers owed at least ``minimum`` (funded money only) whose payout account can receive
    money, by user id. Two queries whatever the number of solvers: the value shares not paid
    in yet, and the payable accounts joined to the enabled payout accounts by their code."""
    from marketplace.value.dues import unfunded_shares

    held = unfunded_shares(currency)
    available = Account.credits_posted - Account.debits_posted - Account.debits_pending
    code = (
        literal("liability:payable:solver:")
        + cast(PayoutAccount.user_id, String)
        + literal(f":{currency.lower()}")
    )
    rows = db.session.execute(
        select(Account.id, PayoutAccount.user_id, PayoutAccount.id, available)
        .join(PayoutAccount, Account.code == code)
        .where(
            PayoutAccount.payouts_enabled.is_(True),
            Account.currency == currency,
            available >= minimum,
        )
        .order_by(PayoutAccount.user_id)
    )
    return [
        Candidate(account_id, user_id, payout_account_id, owed - held.get(user_id, 0))
        for account_id, user_id, payout_account_id, owed in rows
        if owed - held.get(user_id, 0) >= minimum
    ]


@refusals_recorded("payout_batch.prepare")
@command
def prepare_batch(actor: User, currency: str, minimum: int) -> PayoutBatch:
    require_platform_finance(actor)
    errors: dict[str, list[str]] = {}
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        errors["currency"] = ["Use a currency code like USD."]
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= MAX_MINIMUM:
        errors["minimum"] = ["The minimum is a positive amount in minor units."]
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    candidates = payable_candidates(currency, minimum)
    if not candidates:
        shown = format_minor(minimum, currency, grouped=True)
        raise Conflict(
            f"Nobody is owed at least {shown} {currency} with a payout account that can "
            "receive money."
        )
    batch = PayoutBatch(currency=currency, minimum=minimum, prepared_by_id=actor.id)
    db.session.add(batch)
    db.session.flush()
    cash = chart.cash(db.session, currency)
    amounts = [c.amount for c in candidates]
    transfers = [
        NewTransfer(c.account_id, cash.id, c.amount, "PAYOUT", f"payout-batch:{batch.id}",
                    pending=True)
        for c in candidates
    ]  # fmt: skip
    try:
        posted = ledger.post_journal(
            db.session,
            transfers,
            key=f"payout-batch:{batch.id}",
            recorded_by=f"user:{actor.id}",
            description=f"Payout batch {batch.id} reserved, waiting for approval",
        )
    except InsufficientFunds as error:
        raise Conflict(
            "A balance changed while the batch was prepared; prepare it again."
        ) from error
    db.session.execute(  # one multi-row INSERT (insertmanyvalues), no ORM objects
        insert(PayoutLine),
        [
            {"batch_id": batch.id, "user_id": c.user_id, "payout_account_id": c.payout_account_id,
             "amount": c.amount, "currency": currency, "transfer_id": transfer_id,
             "status": LineStatus.RESERVED}
            for c, transfer_id in zip(candidates, posted.transfer_ids, strict=True)
        ],
    )  # fmt: skip
    batch.journal_id = posted.journal_id
    batch.total = sum(amounts)
    batch.line_count = len(amounts)
    facts = {"total": batch.total, "currency": currency, "lines": batch.line_count}
    record("payout_batch.prepare", obj=batch, actor=actor, details=facts)
    return batch


def get_batch(actor: User, batch_id: int) -> PayoutBatch:
    require_platform_finance(actor)
    batch = db.session.get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound("No such payout batch.")
    return batch


def _lock(batch: PayoutBatch) -> None:
    db.session.execute(select(PayoutBatch.id).where(PayoutBatch.id == batch.id).with_for_update())
    db.session.refresh(batch)


@refusals_recorded("payout_batch.approve", object_arg="batch_id")
@command
def approve_batch(actor: User, batch_id: int, code: str | None) -> PayoutBatch:
    """The second pair of eyes: another finance user approves, and the job starts sending.
    ``code`` is a fresh code of the approver's authenticator app (step-up: asked for every
    approval, even inside a session)."""
    batch = get_batch(actor, batch_id)
    if batch.prepared_by_id == actor.id:
        raise Forbidden("Four eyes: the finance user who prepared a batch cannot approve it.")
    _lock(batch)
    if batch.status != BatchStatus.PREPARED:
        raise Conflict(f"A {batch.status} batch cannot be approved.")
    step_up(actor, code)
    batch.status = BatchStatus.APPROVED
    batch.approved_by_id = actor.id
    batch.approved_at = utcnow()
    record("payout_batch.approve", obj=batch, actor=actor, details={"total": batch.total})
    enqueue(SEND_JOB, batch.id, queue=JobQueue.PAYOUTS, timeout=SEND_TIMEOUT)
    return batch


@refusals_recorded("payout_batch.resend", object_arg="batch_id")
@command
def resend_batch(actor: User, batch_id: int) -> PayoutBatch:
    """Run the sending job for an approved batch now, rather than at the scheduler's next
    round: it sends the lines that are due (each claimed first, with its own idempotency key,
    so nothing is paid twice); lines waiting for a retry keep their time."""
    batch = get_batch(actor, batch_id)
    if batch.status != BatchStatus.APPROVED:
        raise Conflict(f"Only an approved batch still sending can be sent again, not a "
                       f"{batch.status} one.")  # fmt: skip
    record("payout_batch.resend", obj=batch, actor=actor)
    enqueue(SEND_JOB, batch.id, queue=JobQueue.PAYOUTS, timeout=SEND_TIMEOUT)
    return batch


def waits_for_finance(line: PayoutLine) -> bool:
    """Sent, never answered under any of its keys, and nothing more tried by itself."""
    return line.status == LineStatus.SENDING and line.next_try_at is None


def _why_not_releasable(line: PayoutLine) -> str | None:
    if waits_for_finance(line):
        return None
    if line.status in (LineStatus.PAID, LineStatus.REVERSED):
        return f"Payout line {line.id} is {line.status}: there is nothing to release."
    if line.status not in OPEN:
        return f"Payout line {line.id} is {line.status}: its amount is owed again already."
    return (
        f"Payout line {line.id} is still being sent; it can be released only once the "
        f"provider has made no transfer for it under {KEY_VERSIONS} idempotency keys."
    )


@refusals_recorded("payout_line.release", object_arg="line_id")
def release_line(actor: User, line_id: int, reason: str) -> PayoutLine:
    """A platform finance user gives up on a line the provider never answered: its
    reservation is voided and the solver is owed again, recording who did it and why.

    The provider is asked first (no transaction is open meanwhile): if it made the transfer
    after all, the line is marked paid instead and the release refused (Conflict)."""
    require_platform_finance(actor)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"reason": ["Say why the line is released (1 to 4,000 characters)."]},
        )
    with transaction():
        line = db.session.get(PayoutLine, line_id)
        if line is None:
            raise NotFound("No such payout line.")
        refused = _why_not_releasable(line)
        request = payout_request(line)
    if refused:
        raise Conflict(refused)
    try:
        found = current_provider().find_payout(request)
    except ProviderError as error:
        raise Conflict(
            f"The payment provider could not be asked about line {line_id} ({error}); "
            "nothing was released. Try again later."
        ) from error
    if found is not None:
        mark_paid(line_id, found)
        raise Conflict(
            f"The provider made transfer {found} for line {line_id} after all: the line is "
            "paid now, and nothing was released."
        )
    return _release(actor, line_id, reason)


@command
def _release(actor: User, line_id: int, reason: str) -> PayoutLine:
    line = lock_line(line_id)
    refused = _why_not_releasable(line)
    if refused:
        raise Conflict(refused)
    now = utcnow()
    ledger.void_pending(db.session, line.transfer_id, at=now)
    line.status = LineStatus.RELEASED
    line.released_by_id, line.released_at, line.release_reason = actor.id, now, reason
    line.resolved_at = now
    record("payout_line.release", obj=line, actor=actor, details={"reason": reason})
    complete_if_done(line.batch_id)
    notify(
        [line.user_id],
        kind="payout_failed",
        title="A payout to you could not be made; the amount is owed to you again",
        body=reason,
        link="/me/earnings",
    )
    return line


@refusals_recorded("payout_batch.reject", object_arg="batch_id")
@command
def reject_batch(actor: User, batch_id: int, reason: str) -> PayoutBatch:
    """Any finance user rejects a prepared batch: its reservations are voided."""
    batch = get_batch(actor, batch_id)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"reason": ["Say why the batch is rejected (1 to 4,000 characters)."]},
        )
    _lock(batch)
    if batch.status != BatchStatus.PREPARED:
        raise Conflict(f"A {batch.status} batch cannot be rejected.")
    now = utcnow()
    # A batch may hold tens of thousands of lines: its reservations are voided as one write
    # and its lines marked in one statement, not a round of statements per line.
    of_batch = PayoutLine.batch_id == batch.id
    holds = db.session.scalars(select(PayoutLine.transfer_id).where(of_batch)).all()
    ledger.void_pending_many(db.session, holds, at=now)
    db.session.execute(
        update(PayoutLine)
        .where(of_batch)
        .values(status=LineStatus.VOIDED, resolved_at=now)
        .execution_options(synchronize_session="fetch")
    )
    batch.status = BatchStatus.REJECTED
    batch.rejected_by_id = actor.id
    batch.rejected_at = now
    batch.rejection_reason = reason
    record("payout_batch.reject", obj=batch, actor=actor, details={"reason": reason})
    return batch


@dataclass(frozen=True)
class Progress:
    """How far a batch's sending is, from one grouped query over its lines."""

    counts: dict[str, int]  # lines per status, every status named
    waiting: int  # lines only a finance user's release can settle now

    @property
    def done(self) -> int:
        """Lines settled one way or another (paid, failed, released ...)."""
        return done_count(self.counts)


def batch_progress(batch: PayoutBatch) -> Progress:
    """The batch's lines counted per status, and those waiting for finance (sending with no
    try ahead), in one grouped query (the (batch_id, status) index)."""
    no_try = PayoutLine.next_try_at.is_(None)
    rows = db.session.execute(
        select(PayoutLine.status, no_try, func.count(PayoutLine.id))
        .where(PayoutLine.batch_id == batch.id)
        .group_by(PayoutLine.status, no_try)
    ).all()
    counts = {status.value: 0 for status in LineStatus}
    waiting = 0
    for status, without_try, count in rows:
        counts[status] = counts.get(status, 0) + int(count)
        if status == LineStatus.SENDING and without_try:
            waiting += int(count)
    return Progress(counts, waiting)


def progress(batch: PayoutBatch) -> dict[str, int]:
    """How many lines are in each state (the job's progress, from the database)."""
    return batch_progress(batch).counts


def done_count(counts: dict[str, int]) -> int:
    """Lines settled one way or another (paid, failed, released ...)."""
    return sum(n for status, n in counts.items() if status not in OPEN)


def waiting_for_finance(batch: PayoutBatch) -> int:
    """Lines that only a finance user's release can settle now."""
    return batch_progress(batch).waiting


def batches(actor: User, limit: int = 100) -> list[PayoutBatch]:
    require_platform_finance(actor)
    return list(
        db.session.scalars(select(PayoutBatch).order_by(PayoutBatch.id.desc()).limit(limit))
    )


def _lines_query(batch_id: int) -> Select:
    """A batch's lines with the solver, payout account and releaser loaded in the same
    statement (a page costs one query whatever its length)."""
    return (
        select(PayoutLine)
        .where(PayoutLine.batch_id == batch_id)
        .options(
            joinedload(PayoutLine.user),
            joinedload(PayoutLine.payout_account),
            joinedload(PayoutLine.released_by),
        )
    )


def lines_page(
    actor: User, batch_id: int, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[PayoutLine]:
    """A page of the batch's lines in id order, after ``cursor`` (keyset: the (batch_id, id)
    index answers it in the same time on any page of any batch)."""
    batch = get_batch(actor, batch_id)
    return keyset_page(
        _lines_query(batch.id),
        [PayoutLine.id],
        cursor=cursor,
        per_page=per_page,
        descending=False,
        scalars=True,
    )


def lines_of(actor: User, batch_id: int) -> list[PayoutLine]:
    """Every line of a batch (tests and small batches; pages use ``lines_page``)."""
    batch = get_batch(actor, batch_id)
    return list(db.session.scalars(_lines_query(batch.id).order_by(PayoutLine.id)))
