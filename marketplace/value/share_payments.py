"""The seeker pays the value share a report made it owe, through the payment provider.

The payment is committed first (its id is the provider's idempotency key), the provider is
asked outside any transaction, and its confirmation settles the organization's receivable
(VALUE_SHARE_PAID), as a funding settles escrow.
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.accounts.second_factor import require_second_factor
from marketplace.audit.log import record
from marketplace.challenges.models import Challenge
from marketplace.db import command
from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind
from marketplace.payments.services import add_payment, ask_provider
from marketplace.value.dues import value_share_due
from marketplace.value.models import ValueReport
from marketplace.value.reports import seeker_award


def pay_value_share(actor: User, report_id: int) -> Payment:
    """The seeker pays what a value report made it owe, through the payment provider."""
    payment, description = _open_value_share(actor, report_id)
    return ask_provider(payment.id, description)


@command
def _open_value_share(actor: User, report_id: int) -> tuple[Payment, str]:
    report = db.session.get(ValueReport, report_id)
    if report is None:
        raise NotFound("No such value report.")
    award = seeker_award(actor, report.award_id, "pay value shares")
    require_second_factor(actor, "pay a value share")
    challenge = db.session.get(Challenge, award.challenge_id)
    # One payment at a time per report: a double click does not bill twice.
    db.session.execute(select(ValueReport.id).where(ValueReport.id == report.id).with_for_update())
    amount = value_share_due(report.id)
    if amount <= 0:
        raise Conflict("Nothing is due on this report (paid, on its way, or reversed).")
    payment = add_payment(
        actor,
        Payment(
            kind=PaymentKind.VALUE_SHARE,
            challenge_id=challenge.id,
            value_report_id=report.id,
            amount=amount,
            currency=report.currency,
        ),
    )
    record("value_share.pay", obj=payment, organization_id=challenge.organization_id,
           actor=actor, details={"amount": amount, "currency": report.currency})  # fmt: skip
    return payment, (
        f"Value share for “{challenge.title}”, {report.period_start.isoformat()} "
        f"to {report.period_end.isoformat()}"
    )
