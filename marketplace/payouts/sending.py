"""Sending an approved batch: one provider transfer per line, each with the line's own
idempotency key, then the line's pending transfer is posted (paid) or voided (refused: the
solver is owed again). Each line is committed on its own, so a crash loses at most the answer
to the line in flight; running the job again sends that line with the same key, which the
provider answers with the transfer it already made, and sends nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select

import ledger
from ledger import utcnow
from marketplace.extensions import db
from marketplace.notifications.services import notify
from marketplace.payments.provider import (
    PayoutRequest,
    ProviderError,
    ProviderUnavailable,
    current_provider,
)
from marketplace.payouts.models import BatchStatus, LineStatus, PayoutBatch, PayoutLine

log = logging.getLogger(__name__)
OPEN = (LineStatus.RESERVED, LineStatus.SENDING)
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


def mark_paid(line: PayoutLine, provider_transfer_id: str) -> None:
    """The provider made the transfer: post the reservation (once)."""
    if line.status == LineStatus.PAID:
        return
    ledger.post_pending(db.session, line.transfer_id)
    line.status = LineStatus.PAID
    line.provider_transfer_id = provider_transfer_id
    line.resolved_at = utcnow()


def mark_failed(line: PayoutLine, reason: str) -> None:
    """The provider refused: void the reservation, the solver is owed again."""
    ledger.void_pending(db.session, line.transfer_id)
    line.status = LineStatus.FAILED
    line.error = reason[:2000]
    line.resolved_at = utcnow()


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
            _tell_failed(line)
        else:
            mark_paid(line, transfer_id)
            done["paid"] += 1
        db.session.commit()
    _complete_if_done(batch)
    return done


def _complete_if_done(batch: PayoutBatch) -> None:
    still_open = db.session.scalar(
        select(PayoutLine.id)
        .where(PayoutLine.batch_id == batch.id, PayoutLine.status.in_(OPEN))
        .limit(1)
    )
    if still_open is None and batch.status == BatchStatus.APPROVED:
        batch.status = BatchStatus.COMPLETED
        batch.completed_at = utcnow()
        db.session.commit()


def _tell_failed(line: PayoutLine) -> None:
    notify(
        [line.user_id],
        kind="payout_failed",
        title="A payout to you failed; the amount is owed to you again",
        body=line.error,
        link="/me/earnings",
    )


def _line_from(transfer: Mapping[str, Any]) -> PayoutLine | None:
    raw = (transfer.get("metadata") or {}).get("payout_line_id")
    try:
        return db.session.get(PayoutLine, int(raw))
    except (TypeError, ValueError):
        return None


def transfer_created(transfer: Mapping[str, Any]) -> None:
    """Stripe's ``transfer.created``: a line whose answer was lost is paid after all."""
    line = _line_from(transfer)
    if line is not None and line.status in OPEN:
        mark_paid(line, str(transfer.get("id")))


def transfer_reversed(transfer: Mapping[str, Any]) -> None:
    """Stripe's ``transfer.reversed``: the money came back in full, so the solver is owed it
    again. A partial reversal (Stripe sends the same event) is left to finance staff, who see
    it in the reconciliation: making the whole line owed again would pay the rest twice."""
    line = _line_from(transfer)
    if line is None or line.status != LineStatus.PAID:
        return
    if transfer.get("reversed") is not True:
        log.warning(
            "payout line %s: Stripe reversed %s of %s; reconcile by hand",
            line.id, transfer.get("amount_reversed"), line.amount,
        )  # fmt: skip
        return
    ledger.reverse_transfer(
        db.session,
        line.transfer_id,
        key=f"reversal:payout-line:{line.id}",
        recorded_by="stripe",
        reason=f"Stripe reversed transfer {transfer.get('id')} of payout line {line.id}",
    )
    line.status = LineStatus.REVERSED
    line.resolved_at = utcnow()
