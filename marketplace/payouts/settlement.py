"""Settling payout lines from what the provider says, whichever path says it first: the
sending job's answer, a webhook, or the scheduled resume. Every path calls these functions, so
the rules (what wins over what, when a batch completes) live in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

import ledger
from ledger import utcnow
from marketplace.extensions import db
from marketplace.notifications.services import notify
from marketplace.payouts.models import BatchStatus, LineStatus, PayoutBatch, PayoutLine

log = logging.getLogger(__name__)
OPEN = (LineStatus.RESERVED, LineStatus.SENDING)


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


def complete_if_done(batch: PayoutBatch) -> None:
    still_open = db.session.scalar(
        select(PayoutLine.id)
        .where(PayoutLine.batch_id == batch.id, PayoutLine.status.in_(OPEN))
        .limit(1)
    )
    if still_open is None and batch.status == BatchStatus.APPROVED:
        batch.status = BatchStatus.COMPLETED
        batch.completed_at = utcnow()


def tell_failed(line: PayoutLine) -> None:
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
