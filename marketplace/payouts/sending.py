"""Sending an approved batch: one provider transfer per line, each with the line's own
idempotency key, then the line's pending transfer is posted (paid) or voided (refused: the
solver is owed again). Each line is committed on its own, so a crash loses at most the answer
to the line in flight; running the job again sends that line with the same key, which the
provider answers with the transfer it already made, and sends nothing twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from ledger import utcnow
from marketplace.extensions import db
from marketplace.payments.provider import (
    PayoutRequest,
    ProviderError,
    ProviderUnavailable,
    current_provider,
)
from marketplace.payouts.models import BatchStatus, LineStatus, PayoutBatch, PayoutLine
from marketplace.payouts.settlement import (
    OPEN,
    complete_if_done,
    mark_failed,
    mark_paid,
    tell_failed,
)

log = logging.getLogger(__name__)
#: How long a line may be sent again with the same idempotency key (Stripe keeps keys 24 h).
KEY_LIFETIME = timedelta(hours=23)


def line_key(line: PayoutLine) -> str:
    return f"payout-line-{line.id}"


def _request(line: PayoutLine) -> PayoutRequest:
    return PayoutRequest(
        key=line_key(line),
        amount=line.amount,
        currency=line.currency,
        destination=line.payout_account.external_id,
        description=f"Co-create payout batch {line.batch_id}",
        metadata={"payout_line_id": str(line.id), "payout_batch_id": str(line.batch_id)},
    )


def send_batch(batch_id: int) -> dict[str, int]:
    """Send every open line of an approved batch; returns counts of what happened."""
    batch = db.session.get(PayoutBatch, batch_id)
    if batch is None or batch.status != BatchStatus.APPROVED:
        return {"sent": 0}
    provider = current_provider()
    done = {"paid": 0, "failed": 0, "unanswered": 0}
    line_ids = db.session.scalars(
        select(PayoutLine.id)
        .where(PayoutLine.batch_id == batch_id, PayoutLine.status.in_(OPEN))
        .order_by(PayoutLine.id)
    ).all()
    for line_id in line_ids:
        line = db.session.get(PayoutLine, line_id)
        if line.sent_at is not None and utcnow() - line.sent_at > KEY_LIFETIME:
            # Stripe forgets idempotency keys after 24 hours: sending again could pay twice.
            log.error("payout line %s unanswered since %s: check it at the provider", line.id,
                      line.sent_at)  # fmt: skip
            done["unanswered"] += 1
            continue
        line.sent_at = line.sent_at or utcnow()
        try:
            transfer_id = provider.send_payout(_request(line))
        except ProviderUnavailable as error:
            log.warning("payout line %s: no answer from the provider (%s)", line.id, error)
            line.status = LineStatus.SENDING
            done["unanswered"] += 1
        except ProviderError as error:
            mark_failed(line, str(error))
            done["failed"] += 1
            tell_failed(line)
        else:
            mark_paid(line, transfer_id)
            done["paid"] += 1
        db.session.commit()
    complete_if_done(batch)
    return done


def resume_stuck_batches() -> int:
    """Enqueue the sending job again for every approved batch that still has open lines."""
    raise NotImplementedError
