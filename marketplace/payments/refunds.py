"""Sending a reserved refund to the provider: the second phase of a refund.

``payments.services.refund_escrow`` commits a pending REFUND Payment, a pending REFUND
transfer that reserves the amount in escrow, and the ``send_refund`` job. The job runs after
that commit and calls ``send_refund`` here, which asks the provider outside any transaction
or lock (the Payment's id is in the idempotency key, so a retry never refunds twice), then
records the answer in one short transaction that locks the Payment first:

- refunded: the reservation is posted and the Payment settled;
- a definite refusal: the reservation is voided (the money stays in escrow), the Payment
  failed, and the platform admins are told, for a person to handle;
- no answer (ProviderUnavailable): raised, so the outbox tries again with backoff.

A Payment already settled or failed is left alone, so the job may run any number of times.
"""

from __future__ import annotations

import enum
import logging

from sqlalchemy import select

import ledger
from ledger import Transfer, utcnow
from marketplace.challenges.models import Challenge
from marketplace.db import command
from marketplace.extensions import db
from marketplace.operations.alerts import alert_platform_admins
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.payments.provider import ProviderError, ProviderUnavailable
from marketplace.payments.registry import current_provider
from marketplace.payments.services import refund_key, refundable_fundings

log = logging.getLogger(__name__)


class RefundOutcome(enum.StrEnum):
    SETTLED = "settled"
    FAILED = "failed"
    NOTHING_TO_DO = "nothing to do"  # no such refund, or it was settled or failed already


def send_refund(payment_id: int) -> RefundOutcome:
    """Ask the provider for a reserved refund and record its answer (see the module)."""
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    if payment is None or payment.kind != PaymentKind.REFUND:
        return RefundOutcome.NOTHING_TO_DO
    if payment.status != PaymentStatus.PENDING:
        return RefundOutcome.NOTHING_TO_DO
    try:
        done = current_provider().refund(payment, refundable_fundings(payment))
    except ProviderUnavailable:
        raise
    except ProviderError as error:
        return _refused(payment_id, str(error))
    return _refunded(payment_id, done.external_id)


def _locked_pending(payment_id: int) -> tuple[Payment, int] | None:
    """The refund Payment, locked, and its reservation's transfer id, while still pending."""
    payment = db.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    if payment.status != PaymentStatus.PENDING:
        return None
    transfer_id = db.session.scalar(select(Transfer.id).where(Transfer.key == refund_key(payment)))
    return payment, transfer_id


@command
def _refunded(payment_id: int, external_id: str) -> RefundOutcome:
    locked = _locked_pending(payment_id)
    if locked is None:
        return RefundOutcome.NOTHING_TO_DO
    payment, transfer_id = locked
    ledger.post_pending(db.session, transfer_id)
    payment.external_id = external_id
    payment.status = PaymentStatus.SETTLED
    payment.settled_at = utcnow()
    return RefundOutcome.SETTLED


@command
def _refused(payment_id: int, reason: str) -> RefundOutcome:
    locked = _locked_pending(payment_id)
    if locked is None:
        return RefundOutcome.NOTHING_TO_DO
    payment, transfer_id = locked
    ledger.void_pending(db.session, transfer_id)
    payment.status = PaymentStatus.FAILED
    challenge = db.session.get(Challenge, payment.challenge_id)
    amount = ledger.format_minor(payment.amount, payment.currency, grouped=True)
    log.error("refund payment %s of challenge %s refused: %s", payment.id, challenge.id, reason)
    alert_platform_admins(
        kind="refund_failed",
        title=f"A refund of {amount} {payment.currency} for “{challenge.title}” was refused",
        body=(
            f"The payment provider ({payment.provider}) refused refund payment {payment.id}: "
            f"{reason}\nThe money stays in the need's escrow until a person returns it."
        ),
        link=f"/challenges/{challenge.id}",
    )
    return RefundOutcome.FAILED
