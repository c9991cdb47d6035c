"""Sending an approved batch, line by line, until every line is paid or owed again, whatever
the provider does meanwhile. No database lock is held across a call to the provider:

1. **Claim** (a short transaction, committed before any HTTP call): a conditional UPDATE makes
   the line ``sending``, counts the try, stamps ``sent_at`` (the first use of the current
   idempotency key) and leases the line until ``next_try_at``: two jobs sending one batch
   never send one line at once, and a worker that dies leaves a lease that lapses.
2. **Ask the provider** (no transaction open). A line tried before is first looked up at the
   provider (its transfer group): a transfer there means it is paid. Otherwise it is sent with
   the same idempotency key while the provider keeps that key (``KEY_LIFETIME``); once the key
   is gone and no transfer exists, under the next key version (``payout-line-<id>-v2``),
   which is committed before it is used. So one line never gets two transfers.
3. **Settle** (a short transaction): ``settlement`` locks the line, then the ledger accounts,
   then the batch (which completes once nothing is open), the same order as the webhooks.

What the provider answers decides what happens next:
- a transfer: paid. A definite refusal (card or invalid request): failed, the reservation
  voided and the solver owed again (``settlement.mark_failed``). Nothing else voids a line.
- no answer (5xx, timeout, dropped connection): tried again later with backoff, with the same
  key; a saved 500 is replayed for that key for 24 hours, hence the look-up before each retry.
- 429: nothing was done, so the same request is sent again after its ``Retry-After``, at
  once within the claim (``RATE_LIMIT_PATIENCE``), the shared pace paused meanwhile for every
  sender (the limit is the account's, not the line's); past that, the line is left for a
  later try at its ``Retry-After``.
- no transfer found after the last key version's lifetime: nothing more is tried by itself;
  the line waits for finance (``batches.release_line``).

Requests keep to ``PAYOUT_RATE_PER_SECOND`` through a token bucket shared by every worker
(``rate.payout_pace``), and a job sends up to ``SEND_THREADS`` lines at once (PostgreSQL; one
at a time on SQLite, which has one writer), each thread in its own app context and session:
the claim, ask, settle steps and their idempotency keys are the same for every line.

``resume_stuck_batches`` (scheduled) enqueues the job again for batches with lines due: after a
worker died, or when a retry's time has come.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import Engine, and_, func, or_, select, update

from ledger import utcnow
from marketplace.audit.log import record
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.outbox import JobQueue, JobStatus, OutboxJob
from marketplace.payments.provider import (
    PaymentProvider,
    PayoutRequest,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from marketplace.payments.registry import current_provider
from marketplace.payouts.models import (
    BatchStatus,
    LineStatus,
    PayoutAccount,
    PayoutBatch,
    PayoutLine,
)
from marketplace.payouts.rate import payout_pace
from marketplace.payouts.settlement import (
    OPEN,
    complete_if_done,
    line_group,
    lock_line,
    mark_failed,
    mark_paid,
    tell_failed,
)
from marketplace.queue import enqueue

log = logging.getLogger(__name__)
#: How long a line is sent under one idempotency key (Stripe keeps a key 24 hours).
KEY_LIFETIME = timedelta(hours=23)
#: Key versions tried before a line waits for finance: two days without a transfer.
KEY_VERSIONS = 2
#: A claimed line is another job's to send again only after this (a worker died with it).
CLAIM = timedelta(minutes=5)
#: Seconds to wait before the n-th retry of an unanswered line (the last one repeats).
BACKOFF = (30, 120, 600, 1800, 3600, 7200)
#: A job sleeps for retries due within this long (429s); later ones are the scheduler's.
WAIT_IN_JOB = timedelta(seconds=10)
#: Seconds of Retry-After a claimed line waits out in place before it is left for later
#: (well within its claim, ``CLAIM``).
RATE_LIMIT_PATIENCE = 60.0
#: HTTP requests of a look-up that finds nothing (by transfer group, then by destination).
LOOKUP_REQUESTS = 2
#: Lines a job sends at once (on PostgreSQL), all within the shared pace.
SEND_THREADS = 4
#: A job stops taking lines after this long and leaves the rest to the next one (seconds).
SEND_TIMEOUT = 3600
JOB_BUDGET = SEND_TIMEOUT - 300
SEND_JOB = "send_payout_batch"


def line_key(line: PayoutLine) -> str:
    """The line's idempotency key: ``payout-line-<id>``, then ``payout-line-<id>-v2`` ..."""
    stem = line_group(line.id)
    return stem if line.key_version == 1 else f"{stem}-v{line.key_version}"


def payout_request(line: PayoutLine, destination: str | None = None) -> PayoutRequest:
    """What the provider is asked for the line (or a row of its columns), under its current
    key; ``destination`` is the line's payout account's external id (looked up if not given)."""
    return PayoutRequest(
        key=line_key(line),
        amount=line.amount,
        currency=line.currency,
        destination=destination or line.payout_account.external_id,
        description=f"Co-create payout batch {line.batch_id}",
        metadata={"payout_line_id": str(line.id), "payout_batch_id": str(line.batch_id)},
        group=line_group(line.id),
    )


#: The columns a claim reads back from its UPDATE (one round trip, no line loaded).
CLAIMED = (
    PayoutLine.id,
    PayoutLine.batch_id,
    PayoutLine.amount,
    PayoutLine.currency,
    PayoutLine.key_version,
    PayoutLine.attempts,
    PayoutLine.sent_at,
    PayoutLine.payout_account_id,
)


@dataclass(frozen=True)
class Claim:
    """One try of one line, leased to this job."""

    line_id: int
    attempt: int  # the line's try count once claimed
    request: PayoutRequest
    tried_before: bool  # an earlier try may have reached the provider
    key_expired: bool  # the provider no longer keeps the current key: never send it again
    last_version: bool


@dataclass(frozen=True)
class Answer:
    kind: str  # paid, refused, unanswered, rate_limited, next_version, given_up
    transfer_id: str | None = None
    error: ProviderError | None = None


def _due(now: datetime):  # noqa: ANN202  (a SQL condition)
    """Open lines whose try is due: reserved ones at once, sending ones when their time (a
    retry, or a dead worker's lapsed claim) has come; a sending line with no time waits for
    finance."""
    return or_(
        and_(
            PayoutLine.status == LineStatus.RESERVED,
            or_(PayoutLine.next_try_at.is_(None), PayoutLine.next_try_at <= now),
        ),
        and_(PayoutLine.status == LineStatus.SENDING, PayoutLine.next_try_at <= now),
    )


def claim(line_id: int, now: datetime, destination: str | None = None) -> Claim | None:
    """Lease a due line for one try (committed at once); None when it is not due, or another
    job has it. ``destination``: the line's payout account's external id, if known."""
    with transaction():
        line = db.session.execute(
            update(PayoutLine)
            .where(PayoutLine.id == line_id, _due(now))
            .values(
                status=LineStatus.SENDING,
                attempts=PayoutLine.attempts + 1,
                next_try_at=now + CLAIM,
                sent_at=func.coalesce(PayoutLine.sent_at, now),
            )
            .returning(*CLAIMED)
            .execution_options(synchronize_session=False)
        ).first()
        if line is None:
            return None
        if destination is None:
            destination = db.session.scalar(
                select(PayoutAccount.external_id).where(PayoutAccount.id == line.payout_account_id)
            )
    return Claim(
        line_id=line.id,
        attempt=line.attempts,
        request=payout_request(line, destination),
        tried_before=line.attempts > 1,
        key_expired=now >= line.sent_at + KEY_LIFETIME,
        last_version=line.key_version >= KEY_VERSIONS,
    )


def _next_version(claimed: Claim) -> PayoutRequest | None:
    """Commit the line's next key version before it is used; None if the line was settled
    meanwhile (a webhook)."""
    with transaction():
        line = lock_line(claimed.line_id)
        if line is None or line.status != LineStatus.SENDING or line.attempts != claimed.attempt:
            return None
        line.key_version += 1
        line.sent_at = utcnow()
        log.warning("payout line %s: no transfer under its expired key; sending it as %s",
                    line.id, line_key(line))  # fmt: skip
        return payout_request(line)


R = TypeVar("R")


def paced(call: Callable[[PayoutRequest], R], request: PayoutRequest, requests: int = 1) -> R:
    """``call(request)`` at the shared pace, taking a token for each of the ``requests`` HTTP
    requests it makes. A 429 did nothing at the provider, so the same request (same
    idempotency key) goes again once its Retry-After has passed, the pace paused for every
    sender meanwhile, until ``RATE_LIMIT_PATIENCE`` is spent (then the 429 is raised and the
    line tried later)."""
    pace = payout_pace()
    waited = 0.0
    while True:
        for _ in range(requests):
            pace.wait()
        try:
            return call(request)
        except RateLimited as error:
            if waited + error.retry_after > RATE_LIMIT_PATIENCE:
                raise
            log.info("429 for %s: again after %.1f s", request.key, error.retry_after)
            pace.pause(error.retry_after)
            waited += max(error.retry_after, 1.0)  # a "Retry-After: 0" still counts


def ask(provider: PaymentProvider, claimed: Claim) -> Answer:
    """What the provider says about one claimed line, looking it up before sending again.
    Only the answer to a transfer request can be a refusal; a failed look-up never is."""
    request = claimed.request
    if claimed.tried_before or claimed.key_expired:
        try:
            found = paced(provider.find_payout, request, LOOKUP_REQUESTS)
        except ProviderError as error:
            return _no_answer(error)
        if found is not None:
            return Answer("paid", found)
        if claimed.key_expired:
            if claimed.last_version:
                return Answer("given_up")
            request = _next_version(claimed)
            if request is None:
                return Answer("settled")
    try:
        return Answer("paid", paced(provider.send_payout, request))
    except ProviderUnavailable as error:
        return _no_answer(error)
    except ProviderError as error:
        return Answer("refused", error=error)


def _no_answer(error: ProviderError) -> Answer:
    return Answer("rate_limited" if isinstance(error, RateLimited) else "unanswered", error=error)


def _retry_at(line: PayoutLine, answer: Answer, now: datetime) -> datetime:
    if isinstance(answer.error, RateLimited):
        wait = timedelta(seconds=answer.error.retry_after)
    else:
        wait = timedelta(seconds=BACKOFF[min(line.attempts, len(BACKOFF)) - 1])
    key_ends = line.sent_at + KEY_LIFETIME
    # The last try under a key is when the provider forgets it: look it up, then go on.
    return min(now + wait, key_ends) if now < key_ends else now + wait


def settle(claimed: Claim, answer: Answer) -> str:
    """Record the answer (line, then accounts, then batch); returns what became of the line:
    "settled" when a webhook (or finance) settled it first."""
    if answer.kind == "paid":
        return "paid" if mark_paid(claimed.line_id, answer.transfer_id) else "settled"
    with transaction():
        if answer.kind == "refused":
            if not mark_failed(claimed.line_id, str(answer.error)):
                return "settled"
            tell_failed(db.session.get(PayoutLine, claimed.line_id))
            return "failed"
        line = lock_line(claimed.line_id)
        if line is None or line.status not in OPEN:
            return "settled"
        if line.attempts != claimed.attempt:
            return "settled"  # our claim lapsed and another job tried it since
        now = utcnow()
        if answer.kind == "given_up":
            line.next_try_at = None
            line.error = (
                f"No transfer at the provider after {line.attempts} tries under "
                f"{line.key_version} idempotency keys: check it there, then release the line."
            )
            log.error("payout line %s: %s", line.id, line.error)
            return "given_up"
        line.next_try_at = _retry_at(line, answer, now)
        line.error = f"Try {line.attempts}: {answer.error or 'no answer'}"[:2000]
        log.warning("payout line %s: %s; next try at %s", line.id, line.error,
                    line.next_try_at)  # fmt: skip
        return answer.kind


def send_line(
    provider: PaymentProvider, line_id: int, destination: str | None = None
) -> tuple[str, Answer | None]:
    """One try of one line, if it is due and no other job has it."""
    claimed = claim(line_id, utcnow(), destination)
    if claimed is None:
        return "skipped", None
    answer = ask(provider, claimed)
    return settle(claimed, answer), answer


def _due_lines(batch_id: int, now: datetime) -> list[tuple[int, str]]:
    """(line id, destination account) of the batch's due lines, in id order."""
    rows = db.session.execute(
        select(PayoutLine.id, PayoutAccount.external_id)
        .join(PayoutAccount, PayoutAccount.id == PayoutLine.payout_account_id)
        .where(PayoutLine.batch_id == batch_id, _due(now))
        .order_by(PayoutLine.id)
    )
    return [(line_id, destination) for line_id, destination in rows]


def _threads_allowed() -> bool:
    """Threads need a connection each from an engine: not on SQLite (one writer at a time),
    nor with a session bound to one connection (the tests' rolled-back transaction)."""
    bind = db.session.get_bind()
    return isinstance(bind, Engine) and bind.dialect.name != "sqlite"


def _send_all(
    provider: PaymentProvider, due: list[tuple[int, str]], stop_at: float
) -> Counter[str]:
    """Send the due lines, up to ``SEND_THREADS`` at once; each thread runs one line at a
    time in its own app context (so its own session and connection)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]

    def one(line: tuple[int, str]) -> str:
        if time.monotonic() >= stop_at:
            return "left"
        with app.app_context():
            return send_line(provider, *line)[0]

    threads = min(SEND_THREADS, len(due)) if _threads_allowed() else 1
    if threads <= 1:
        return Counter(send_line(provider, *line)[0] for line in due if time.monotonic() < stop_at)
    with ThreadPoolExecutor(threads, thread_name_prefix="payout-send") as pool:
        return Counter(pool.map(one, due))


def _next_due(batch_id: int) -> datetime | None:
    return db.session.scalar(
        select(func.min(PayoutLine.next_try_at)).where(
            PayoutLine.batch_id == batch_id, PayoutLine.status.in_(OPEN)
        )
    )


def send_batch(batch_id: int) -> dict[str, int]:
    """Send every due line of an approved batch; returns how many lines ended how. Lines
    whose retry is due within ``WAIT_IN_JOB`` are waited for; later ones are left to the
    scheduled resume."""
    batch = db.session.get(PayoutBatch, batch_id)
    if batch is None or batch.status != BatchStatus.APPROVED:
        return {}
    provider = current_provider()
    outcomes: Counter[str] = Counter()
    stop_at = time.monotonic() + JOB_BUDGET
    while time.monotonic() < stop_at:
        with transaction():  # ends the read: nothing is held open while sending
            due = _due_lines(batch_id, utcnow())
        outcomes.update(_send_all(provider, due, stop_at))
        outcomes.pop("left", None)
        with transaction():
            next_due = _next_due(batch_id)
        if next_due is None or next_due - utcnow() > WAIT_IN_JOB:
            break
        time.sleep(max((next_due - utcnow()).total_seconds(), 0))
    with transaction():
        complete_if_done(batch_id)
        record("payout_batch.send", object_type="payout_batch", object_id=batch_id,
               details=dict(outcomes))  # fmt: skip
    return dict(outcomes)


def _waiting_send_jobs() -> set[int]:
    """Batches with a sending job enqueued and not started yet (one more would add nothing)."""
    rows = db.session.scalars(
        select(OutboxJob.args).where(
            OutboxJob.function == SEND_JOB,
            OutboxJob.status.in_((JobStatus.PENDING, JobStatus.QUEUED)),
        )
    )
    return {int(args[0]) for args in rows if args}


def resume_stuck_batches() -> int:
    """Enqueue the sending job for every approved batch with lines due (a worker died with
    lines reserved or sending, or a retry's time has come), unless one is waiting already;
    complete approved batches with nothing open. Returns how many jobs were enqueued.

    Safe to run any number of times: each line is claimed before it is sent."""
    now = utcnow()
    due = set(
        db.session.scalars(
            select(PayoutLine.batch_id)
            .join(PayoutBatch, PayoutBatch.id == PayoutLine.batch_id)
            .where(PayoutBatch.status == BatchStatus.APPROVED, _due(now))
            .distinct()
        )
    )
    finished = db.session.scalars(
        select(PayoutBatch.id).where(
            PayoutBatch.status == BatchStatus.APPROVED,
            ~select(PayoutLine.id)
            .where(PayoutLine.batch_id == PayoutBatch.id, PayoutLine.status.in_(OPEN))
            .exists(),
        )
    ).all()
    resumed = sorted(due - _waiting_send_jobs())
    with transaction():
        for batch_id in finished:
            complete_if_done(batch_id)
        for batch_id in resumed:
            enqueue(SEND_JOB, batch_id, queue=JobQueue.PAYOUTS, timeout=SEND_TIMEOUT)
    if resumed:
        log.info("resumed payout batches %s", resumed)
    return len(resumed)
