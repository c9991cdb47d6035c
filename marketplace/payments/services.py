"""Escrow funding and refunds: the provider moves the money, the ledger records it.

Money promised is money held: a need opens only when its escrow account holds the prizes and
the fee. Funding posts FUND_ESCROW (cash -> escrow) when the provider confirms it; a refund
reserves REFUND (escrow -> cash, pending) with its command and is posted or voided when the
provider answers (``marketplace.payments.refunds``). Each posting's idempotency key is the
payment's id, so a replayed confirmation writes nothing.

Starting a payment is three steps: a transaction commits the pending Payment (its id is the
provider's idempotency key), the provider is asked outside any transaction or lock, and a
second transaction records its answer. Funding starts are serialised per need (the need's row
is locked while the payment is opened): of parallel requests one opens the payment, the others
get it back (or a 409 while its checkout is still being made).

Escrow takes no more than the terms need: a funding beyond what is still missing (counting
payments on their way) is refused with a field error, unless it is an explicit top-up for an
amendment about to be published. An open need's richer amendment is refused until escrow
holds its prizes (``challenges.services.amend_terms``), so the seeker first tops up, naming
the amendment's prize total (``amendment_prize_total``), then publishes it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, or_, select

import ledger
from ledger import Account, as_utc, format_minor, utcnow
from marketplace.accounts.models import User
from marketplace.accounts.second_factor import require_second_factor
from marketplace.audit.log import record, refusals_recorded
from marketplace.challenges.access import FUNDERS, get_visible, require, role_for
from marketplace.challenges.models import Challenge, Status
from marketplace.db import command
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.outbox import JobQueue
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.payments.provider import ProviderError
from marketplace.payments.registry import current_provider
from marketplace.queue import enqueue
from marketplace.urls import external_url

#: A pending payment with no checkout yet this long after it was opened never got one (its
#: request died between the commit and the provider's answer): it is failed, not waited for.
CHECKOUT_DEADLINE = timedelta(minutes=2)


def escrow_available(challenge: Challenge) -> int:
    """Minor units the need's escrow holds and has not reserved (0 before any funding)."""
    account = db.session.scalar(
        select(Account).where(Account.code == f"liability:escrow:challenge:{challenge.id}")
    )
    return account.available if account else 0


def funding_shortfall(challenge: Challenge, prize_total: int | None = None) -> int:
    """What escrow still lacks for the current terms (or for an amendment of them with this
    prize total), counting payments already on their way (so a double click does not ask the
    seeker to pay twice)."""
    on_the_way = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.challenge_id == challenge.id,
            Payment.kind == PaymentKind.FUNDING,
            Payment.status == PaymentStatus.PENDING,
        )
    )
    terms = challenge.current_terms.terms
    if prize_total is not None:
        terms = replace(terms, prizes=(prize_total,))  # the fee is on the total
    return max(0, terms.escrow_required - escrow_available(challenge) - int(on_the_way))


def start_funding(
    actor: User,
    challenge: Challenge,
    amount: int | None = None,
    *,
    amendment_prize_total: int | None = None,
) -> Payment:
    """Ask the provider to take ``amount`` (default: what escrow still lacks) into escrow.

    More than escrow lacks is refused, unless ``amendment_prize_total`` makes it a top-up for
    an open need's amendment with that prize total: escrow may then take what the amendment
    will need. A payment already on its way for the same amount is handed back rather than a
    second one opened (parallel clicks, a retried request): the seeker pays on its checkout
    page."""
    payment, fresh = _open_funding(actor, challenge.id, amount, amendment_prize_total)
    if not fresh:
        return payment
    return ask_provider(payment.id, f"Prize pool of “{challenge.title}”")


@refusals_recorded("need.fund", object_arg="challenge_id", object_type="need")
@command
def _open_funding(
    actor: User, challenge_id: int, amount: int | None, amendment_prize_total: int | None
) -> tuple[Payment, bool]:
    """Under the need's row lock: the pending payment to hand back (False), or a new one
    committed for the provider to start (True)."""
    challenge = db.session.get(
        Challenge, challenge_id, with_for_update=True, populate_existing=True
    )
    if challenge is None:
        raise NotFound("No such need.")
    require(actor, challenge, FUNDERS, "fund this need")
    require_second_factor(actor, "fund a need")
    if challenge.status not in (Status.DRAFT, Status.OPEN):
        raise Conflict(f"A {challenge.status} need takes no more funding.")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise Invalid("Nothing to fund.", {"amount": ["Enter a positive amount."]})
    if amendment_prize_total is not None:
        _check_top_up(challenge, amendment_prize_total)
    pending = _pending_funding(challenge, amount)
    if pending is not None:
        return pending, False
    missing = funding_shortfall(challenge, amendment_prize_total)
    if amount is None:
        amount = missing
        if amount == 0:
            raise Conflict(
                "Escrow holds what the terms need (counting payments on their way)."
                if amendment_prize_total is None
                else "Escrow holds what that amendment needs (counting payments on their way)."
            )
    if amount <= 0:
        raise Invalid("Nothing to fund.", {"amount": ["Enter a positive amount."]})
    if amount > missing:
        message = _beyond(challenge, missing, amendment_prize_total)
        raise Invalid("That is more than escrow needs.", {"amount": [message]})
    payment = Payment(
        kind=PaymentKind.FUNDING, challenge_id=challenge.id, amount=amount,
        currency=challenge.currency,
    )  # fmt: skip
    add_payment(actor, payment)
    record("need.fund", obj=payment, organization_id=challenge.organization_id, actor=actor,
           details={"amount": amount, "currency": payment.currency})  # fmt: skip
    return payment, True


def _check_top_up(challenge: Challenge, prize_total: int) -> None:
    """A top-up is for an open need's amendment that raises the prize total."""
    current = challenge.current_terms.terms.prize_total
    if challenge.status != Status.OPEN:
        message = "A draft's terms change without money in escrow: change them, then fund them."
    elif isinstance(prize_total, bool) or not isinstance(prize_total, int):
        message = "Enter the amendment's prize total as an amount."
    elif prize_total <= current:
        message = (
            "A top-up is for an amendment with a prize total above the current "
            f"{_money(current, challenge.currency)}."
        )
    else:
        return
    raise Invalid("This is no top-up for an amendment.", {"amendment_prize_total": [message]})


def _beyond(challenge: Challenge, missing: int, prize_total: int | None) -> str:
    """The field message for an amount beyond what escrow needs."""
    most = _money(missing, challenge.currency)
    if prize_total is not None:
        return f"The amendment needs at most {most} more in escrow (counting payments on the way)."
    message = f"Escrow needs at most {most} more for the current terms (payments on the way count)."
    if challenge.status == Status.OPEN:
        message += " To top up for an amendment with bigger prizes, give its prize total."
    return message


def _money(amount: int, currency: str) -> str:
    return f"{format_minor(amount, currency, grouped=True)} {currency}"


def _pending_funding(challenge: Challenge, amount: int | None) -> Payment | None:
    """The funding payment on its way that a request for ``amount`` (None: the shortfall)
    gets back. One whose checkout is still being made is a 409; one that never got a
    checkout (its request died) is failed, so a new one opens."""
    for payment in db.session.scalars(
        select(Payment)
        .where(
            Payment.challenge_id == challenge.id,
            Payment.kind == PaymentKind.FUNDING,
            Payment.status == PaymentStatus.PENDING,
        )
        .order_by(Payment.id.desc())
    ):
        if payment.checkout_url is None and payment.external_id is None:
            if utcnow() - as_utc(payment.created_at) > CHECKOUT_DEADLINE:
                payment.status = PaymentStatus.FAILED
                continue
            if amount is None or amount == payment.amount:
                raise Conflict("A payment for this need is being started; try again in a moment.")
            continue
        if amount is None or amount == payment.amount:
            return payment
    return None


def add_payment(actor: User, payment: Payment) -> Payment:
    payment.provider = current_provider().name
    payment.created_by_id = actor.id
    db.session.add(payment)
    db.session.flush()
    return payment


def ask_provider(payment_id: int, description: str) -> Payment:
    """Ask the provider to take a committed payment (a checkout, or at once in the sandbox),
    outside any transaction; its id is the idempotency key, so asking again is safe."""
    payment = db.session.get(Payment, payment_id)
    provider = current_provider()
    try:
        started = provider.start_funding(
            payment,
            description=description,
            success_url=external_url("payments.funding_done", payment_id=payment.id),
            cancel_url=external_url("challenges.detail", challenge_id=payment.challenge_id),
        )
    except ProviderError as error:
        _record_refusal(payment_id)
        raise Conflict(f"The payment provider refused: {error}") from error
    _record_start(payment_id, started.external_id, started.checkout_url, started.payment_intent)
    if started.settled:
        settle_funding(payment_id, started.payment_intent)
    return db.session.get(Payment, payment_id)


@command
def _record_refusal(payment_id: int) -> None:
    payment = db.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    if payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.FAILED


@command
def _record_start(
    payment_id: int, external_id: str, checkout_url: str | None, payment_intent: str | None
) -> None:
    payment = db.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    payment.external_id = external_id
    payment.checkout_url = checkout_url
    payment.payment_intent = payment.payment_intent or payment_intent


@command
def settle_funding(payment_id: int, payment_intent: str | None = None) -> Payment:
    """The provider confirmed the money: post it once (replays write nothing). Funding goes
    into the need's escrow (FUND_ESCROW); a value share payment settles the organization's
    receivable (VALUE_SHARE_PAID). Funding paid after its need closed goes straight back,
    by a job after the commit (the refund asks the provider: never under this transaction's
    ledger locks)."""
    payment = db.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
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
    record("payment.settle", obj=payment, organization_id=challenge.organization_id,
           details={"amount": payment.amount, "currency": payment.currency})  # fmt: skip
    if payment_intent:
        payment.payment_intent = payment_intent
    if payment.kind == PaymentKind.FUNDING and challenge.status not in (Status.DRAFT, Status.OPEN):
        # Paid on a checkout page after the need was cancelled or closed: the money was
        # promised to nothing, so it goes straight back.
        enqueue("refund_unspent_escrow", challenge.id, queue=JobQueue.DEFAULT)
    return payment


@command
def refund_closed_escrow(challenge_id: int) -> Payment | None:
    """Give back what a cancelled or closed need's escrow still holds (safe to run again:
    an empty escrow refunds nothing)."""
    challenge = db.session.get(
        Challenge, challenge_id, with_for_update=True, populate_existing=True
    )
    if challenge is None or challenge.status in (Status.DRAFT, Status.OPEN):
        return None
    return refund_escrow(None, challenge)


def refund_escrow(actor: User | None, challenge: Challenge) -> Payment | None:
    """Reserve what escrow still holds for a refund to the seeker, in the caller's transaction.

    The first of two phases: the pending REFUND Payment, a pending REFUND transfer (escrow ->
    cash) that keeps the amount from being awarded or refunded twice, and the ``send_refund``
    job, all committed with the cancel or close-out. The provider is asked by that job after
    the commit (``marketplace.payments.refunds``), under the Payment's id as idempotency key;
    its answer posts or voids the reservation.
    """
    amount = escrow_available(challenge)
    if amount <= 0:
        return None
    payment = Payment(
        kind=PaymentKind.REFUND,
        challenge_id=challenge.id,
        amount=amount,
        currency=challenge.currency,
        provider=current_provider().name,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(payment)
    db.session.flush()
    ledger.post_transfer(
        db.session,
        debit=chart.escrow(db.session, challenge.id, challenge.currency).id,
        credit=chart.cash(db.session, challenge.currency).id,
        amount=amount,
        code="REFUND",
        key=refund_key(payment),
        reference=f"challenge:{challenge.id}",
        recorded_by=f"user:{actor.id}" if actor else "system",
        description=f"Unspent escrow of challenge {challenge.id} returned",
        pending=True,
    )
    enqueue("send_refund", payment.id, queue=JobQueue.DEFAULT)
    return payment


def refund_key(payment: Payment) -> str:
    """The ledger key of a payment's transfer (the reconciliation matches payments by it)."""
    return f"payment:{payment.id}"


def refundable_fundings(refund: Payment) -> list[Payment]:
    """The settled fundings a refund draws on: those of its need and currency settled by the
    time it was reserved (escrow held only their money then), so every try of one refund
    splits it over the same PaymentIntents."""
    return list(
        db.session.scalars(
            select(Payment)
            .where(
                Payment.challenge_id == refund.challenge_id,
                Payment.kind == PaymentKind.FUNDING,
                Payment.status == PaymentStatus.SETTLED,
                Payment.currency == refund.currency,
                or_(Payment.settled_at.is_(None), Payment.settled_at <= refund.created_at),
            )
            .order_by(Payment.id)
        )
    )


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
