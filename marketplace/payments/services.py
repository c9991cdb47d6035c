"""Escrow funding and refunds: the provider moves the money, the ledger records it.

Money promised is money held: a need opens only when its escrow account holds the prizes and
the fee. Funding posts FUND_ESCROW (cash -> escrow) when the provider confirms it; a refund
posts REFUND (escrow -> cash). Each posting's idempotency key is the payment's id, so a
replayed confirmation writes nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select

import ledger
from ledger import Account, utcnow
from marketplace.accounts.models import User
from marketplace.challenges.access import FUNDERS, get_visible, require, role_for
from marketplace.challenges.models import Challenge, Status
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.payments.provider import ProviderError, current_provider
from marketplace.urls import external_url


def escrow_available(challenge: Challenge) -> int:
    """Minor units the need's escrow holds and has not reserved (0 before any funding)."""
    account = db.session.scalar(
        select(Account).where(Account.code == f"liability:escrow:challenge:{challenge.id}")
    )
    return account.available if account else 0


def funding_shortfall(challenge: Challenge) -> int:
    """What escrow still lacks for the current terms, counting payments already on their way
    (so a double click does not ask the seeker to pay twice)."""
    on_the_way = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.challenge_id == challenge.id,
            Payment.kind == PaymentKind.FUNDING,
            Payment.status == PaymentStatus.PENDING,
        )
    )
    required = challenge.current_terms.terms.escrow_required
    return max(0, required - escrow_available(challenge) - int(on_the_way))


def value_share_due(report_id: int) -> int:
    """What the seeker still owes for one value report: its share less what was paid (or is
    on its way) for it and for the reports it corrects, so a correction never bills twice."""
    from marketplace.value.models import ReportStatus, ValueReport

    report = db.session.get(ValueReport, report_id)
    if report is None or report.status != ReportStatus.POSTED:
        return 0
    chain, earlier = [report.id], report.corrects_id
    while earlier is not None:
        chain.append(earlier)
        earlier = db.session.scalar(
            select(ValueReport.corrects_id).where(ValueReport.id == earlier)
        )
    paid = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.value_report_id.in_(chain),
            Payment.kind == PaymentKind.VALUE_SHARE,
            Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.SETTLED)),
        )
    )
    return max(0, report.share_amount - int(paid))


def pay_value_share(actor: User, report_id: int) -> Payment:
    """The seeker pays what a value report made it owe, through the payment provider."""
    from marketplace.value.models import ValueReport
    from marketplace.value.reports import seeker_award

    report = db.session.get(ValueReport, report_id)
    if report is None:
        raise NotFound("No such value report.")
    award = seeker_award(actor, report.award_id, "pay value shares")
    challenge = db.session.get(Challenge, award.challenge_id)
    # One payment at a time per report: a double click does not bill twice.
    db.session.execute(select(ValueReport.id).where(ValueReport.id == report.id).with_for_update())
    amount = value_share_due(report.id)
    if amount <= 0:
        raise Conflict("Nothing is due on this report (paid, on its way, or reversed).")
    return _start_payment(
        actor,
        Payment(
            kind=PaymentKind.VALUE_SHARE,
            challenge_id=challenge.id,
            value_report_id=report.id,
            amount=amount,
            currency=report.currency,
        ),
        description=f"Value share for “{challenge.title}”, {report.period_start.isoformat()} "
        f"to {report.period_end.isoformat()}",
    )


def start_funding(actor: User, challenge: Challenge, amount: int | None = None) -> Payment:
    """Ask the provider to take ``amount`` (default: what escrow still lacks) into escrow."""
    require(actor, challenge, FUNDERS, "fund this need")
    if challenge.status not in (Status.DRAFT, Status.OPEN):
        raise Conflict(f"A {challenge.status} need takes no more funding.")
    if amount is None:
        amount = funding_shortfall(challenge)
        if amount == 0:
            raise Conflict("Escrow holds what the terms need (counting payments on their way).")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise Invalid("Nothing to fund.", {"amount": ["Enter a positive amount."]})
    return _start_payment(
        actor,
        Payment(
            kind=PaymentKind.FUNDING,
            challenge_id=challenge.id,
            amount=amount,
            currency=challenge.currency,
        ),
        description=f"Prize pool of “{challenge.title}”",
    )


def _start_payment(actor: User, payment: Payment, description: str) -> Payment:
    """Commit the payment, then ask the provider to take it (a checkout, or at once)."""
    provider = current_provider()
    payment.provider = provider.name
    payment.created_by_id = actor.id
    db.session.add(payment)
    db.session.commit()
    try:
        started = provider.start_funding(
            payment,
            description=description,
            success_url=external_url("payments.funding_done", payment_id=payment.id),
            cancel_url=external_url("challenges.detail", challenge_id=payment.challenge_id),
        )
    except ProviderError as error:
        payment.status = PaymentStatus.FAILED
        db.session.commit()
        raise Conflict(f"The payment provider refused: {error}") from error
    payment.external_id = started.external_id
    payment.checkout_url = started.checkout_url
    payment.payment_intent = started.payment_intent
    db.session.commit()
    if started.settled:
        settle_funding(payment.id, started.payment_intent)
    return payment


def settle_funding(payment_id: int, payment_intent: str | None = None) -> Payment:
    """The provider confirmed the money: post it once (replays write nothing). Funding goes
    into the need's escrow (FUND_ESCROW); a value share payment settles the organization's
    receivable (VALUE_SHARE_PAID)."""
    payment = db.session.get(Payment, payment_id, with_for_update=True)
    if payment is None or payment.kind not in (PaymentKind.FUNDING, PaymentKind.VALUE_SHARE):
        raise Invalid(f"No funding payment {payment_id}.")
    if payment.status == PaymentStatus.SETTLED:
        return payment
    challenge = db.session.get(Challenge, payment.challenge_id)
    cash = chart.cash(db.session, payment.currency)
    if payment.kind == PaymentKind.VALUE_SHARE:
        credit = chart.receivable(db.session, challenge.organization_id, payment.currency)
        code, reference = "VALUE_SHARE_PAID", f"value-report:{payment.value_report_id}"
        description = f"Value share of report {payment.value_report_id} paid by the seeker"
    else:
        credit = chart.escrow(db.session, challenge.id, payment.currency)
        code, reference = "FUND_ESCROW", f"challenge:{challenge.id}"
        description = f"Prize pool of challenge {challenge.id} funded"
    ledger.post_transfer(
        db.session,
        debit=cash.id,
        credit=credit.id,
        amount=payment.amount,
        code=code,
        key=f"payment:{payment.id}",
        reference=reference,
        recorded_by=f"{payment.provider}",
        description=f"{description} ({payment.provider})",
    )
    payment.status = PaymentStatus.SETTLED
    payment.settled_at = utcnow()
    if payment_intent:
        payment.payment_intent = payment_intent
    db.session.commit()
    if payment.kind == PaymentKind.FUNDING and challenge.status not in (Status.DRAFT, Status.OPEN):
        # Paid on a checkout page after the need was cancelled or closed: the money was
        # promised to nothing, so it goes straight back.
        refund_escrow(None, challenge)
        db.session.commit()
    return payment


def refund_escrow(actor: User | None, challenge: Challenge) -> Payment | None:
    """Return what escrow still holds to the seeker through the provider (REFUND).

    Runs inside the caller's transaction; the caller commits.
    """
    amount = escrow_available(challenge)
    if amount <= 0:
        return None
    provider = current_provider()
    payment = Payment(
        kind=PaymentKind.REFUND,
        challenge_id=challenge.id,
        amount=amount,
        currency=challenge.currency,
        provider=provider.name,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(payment)
    db.session.flush()
    fundings = list(
        db.session.scalars(
            select(Payment).where(
                Payment.challenge_id == challenge.id,
                Payment.kind == PaymentKind.FUNDING,
                Payment.status == PaymentStatus.SETTLED,
            )
        )
    )
    try:
        done = provider.refund(payment, fundings)
    except ProviderError as error:
        raise Conflict(f"The payment provider refused the refund: {error}") from error
    escrow = chart.escrow(db.session, challenge.id, challenge.currency)
    ledger.post_transfer(
        db.session,
        debit=escrow.id,
        credit=chart.cash(db.session, challenge.currency).id,
        amount=amount,
        code="REFUND",
        key=f"payment:{payment.id}",
        reference=f"challenge:{challenge.id}",
        recorded_by=f"user:{actor.id}" if actor else "system",
        description=f"Unspent escrow of challenge {challenge.id} returned",
    )
    payment.external_id = done.external_id
    payment.status = PaymentStatus.SETTLED
    payment.settled_at = utcnow()
    return payment


def payment_for(actor: User, payment_id: int) -> tuple[Payment, Challenge]:
    """One payment and its need, for the people who may fund that need (others: 404)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    challenge = get_visible(actor, payment.challenge_id)
    if role_for(actor, challenge) not in FUNDERS:
        raise NotFound("No such payment.")
    return payment, challenge


def payments_of(challenge: Challenge) -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment).where(Payment.challenge_id == challenge.id).order_by(Payment.id)
        )
    )
