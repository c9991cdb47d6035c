"""Cancelling a need funded through Stripe gives its escrow back through Stripe Refunds.

A refund is two-phase: the cancel (or close-out) commits a pending REFUND payment, a pending
REFUND transfer reserving the amount in escrow, and a ``send_refund`` job; the job asks Stripe
after the commit and posts or voids the reservation. Refunds are counted at the fake Stripe.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

import ledger
from ledger import utcnow
from marketplace.challenges.models import Status
from marketplace.challenges.services import cancel_challenge, open_challenge
from marketplace.db import in_transaction, transaction
from marketplace.extensions import db
from marketplace.finance.reconciliation import reconcile
from marketplace.notifications.models import Notification
from marketplace.outbox import JobStatus, OutboxJob
from marketplace.payments import services
from marketplace.payments.models import PaymentKind, PaymentStatus
from marketplace.payments.provider import ProviderError
from marketplace.payments.refunds import RefundOutcome, send_refund
from marketplace.payments.stripe_provider import StripeProvider, plan_refund
from marketplace.queue import relay
from tests.factories import UserFactory
from tests.payments.conftest import (
    ESCROW_REQUIRED,
    challenge,
    fund_through_stripe,
    manager,
    payments,
    post_event,
    transfers,
)

REFUNDS = "/v1/refunds"


def refund_payments(seeker) -> list:
    return [p for p in payments(seeker) if p.kind == PaymentKind.REFUND]


def intents(seeker) -> list[str]:
    """The PaymentIntents of the need's fundings, oldest first."""
    return [p.payment_intent for p in payments(seeker) if p.kind == PaymentKind.FUNDING]


def refund_job() -> OutboxJob:
    [job] = db.session.scalars(select(OutboxJob).where(OutboxJob.function == "send_refund"))
    return job


def reconciliation_differences() -> list[str]:
    """What the reconciliation (book against Stripe) finds wrong."""
    finance = UserFactory(is_platform_finance=True, second_factor=True)
    report = reconcile(finance)
    assert report.provider is not None and report.provider.error is None
    return [d.message for currency in report.currencies for d in currency.differences]


def alerts() -> list[Notification]:
    return list(
        db.session.scalars(select(Notification).where(Notification.kind == "refund_failed"))
    )


def test_cancelling_an_open_need_refunds_through_stripe_after_the_commit(
    stripe_app, client, auth, seeker, stripe_server, monkeypatch
):
    fund_through_stripe(stripe_app, client, stripe_server, seeker)
    with stripe_app.app_context():
        open_challenge(manager(seeker), challenge(seeker))
        [payment_intent] = intents(seeker)
    asked = []
    refund = StripeProvider.refund

    def watched(provider, payment, fundings):
        """What the book held when Stripe was asked, and whether a transaction was open."""
        [reservation] = transfers("REFUND")
        asked.append((in_transaction(), payment.status, reservation.status))
        return refund(provider, payment, fundings)

    monkeypatch.setattr(StripeProvider, "refund", watched)

    auth.login(seeker.email)
    answer = client.post(f"/challenges/{seeker.challenge_id}/cancel")
    assert answer.status_code == 302
    with client.session_transaction() as browser:
        assert browser["_flashes"][-1][0] == "success"
    # Asked once, after the cancel committed its payment and reservation.
    assert asked == [(False, PaymentStatus.PENDING, "pending")]

    with stripe_app.app_context():
        [refund_payment] = refund_payments(seeker)
        [call] = stripe_server.posts(REFUNDS)
        assert call.params == {
            "payment_intent": payment_intent,
            "amount": str(ESCROW_REQUIRED),
            "metadata[challenge_id]": str(seeker.challenge_id),
            "metadata[payment_id]": str(refund_payment.id),
        }
        assert call.idempotency_key == f"refund-{refund_payment.id}-{payment_intent}"
        assert stripe_server.refunded(payment_intent) == ESCROW_REQUIRED
        [refund_id] = stripe_server.refunds

        assert challenge(seeker).status == Status.CANCELLED
        assert (refund_payment.provider, refund_payment.status) == ("stripe", PaymentStatus.SETTLED)
        assert refund_payment.amount == ESCROW_REQUIRED
        assert refund_payment.external_id == refund_id
        [transfer] = transfers("REFUND")
        assert (transfer.amount, transfer.status) == (ESCROW_REQUIRED, "posted")
        assert transfer.key == f"payment:{refund_payment.id}"
        assert services.escrow_available(challenge(seeker)) == 0
        assert refund_job().status == JobStatus.DONE
        assert ledger.verify(db.session) == []


def test_a_refund_is_split_over_the_fundings_newest_first(
    stripe_app, client, seeker, stripe_server
):
    fund_through_stripe(stripe_app, client, stripe_server, seeker, amount=30_000)
    fund_through_stripe(stripe_app, client, stripe_server, seeker)  # the other 75,000
    with stripe_app.app_context():
        older, newer = intents(seeker)
        cancel_challenge(manager(seeker), challenge(seeker))
        [refund] = refund_payments(seeker)
        assert refund.amount == ESCROW_REQUIRED
        assert refund.external_id == ",".join(stripe_server.refunds)
        assert [t.amount for t in transfers("REFUND")] == [ESCROW_REQUIRED]
        assert services.escrow_available(challenge(seeker)) == 0

    calls = stripe_server.posts(REFUNDS)
    assert [(c.params["payment_intent"], c.params["amount"]) for c in calls] == [
        (newer, "75000"),
        (older, "30000"),
    ]
    assert [c.idempotency_key for c in calls] == [
        f"refund-{refund.id}-{newer}",
        f"refund-{refund.id}-{older}",
    ]


def lose_two_answers(stripe_server) -> None:
    """The refund is made, and its answer is lost twice (the SDK's own retry included)."""
    stripe_server.payout_fault("drop", path=REFUNDS, times=2)


def answer_500_twice(stripe_server) -> None:
    """Stripe answers 500 (nothing made) to the request and to the SDK's own retry."""
    stripe_server.fail(
        500, "api_error", "An unknown error occurred.", code=None, path=REFUNDS, times=2
    )


@pytest.mark.parametrize("fault", [answer_500_twice, lose_two_answers])
def test_an_unanswered_refund_is_retried_with_the_same_key_and_refunds_once(
    stripe_app, client, auth, seeker, stripe_server, fault
):
    """No answer from Stripe is no refusal: the cancel stands, the amount stays reserved,
    and the outbox tries the job again with backoff, under the same idempotency key."""
    fund_through_stripe(stripe_app, client, stripe_server, seeker)
    with stripe_app.app_context():
        [payment_intent] = intents(seeker)
    fault(stripe_server)
    auth.login(seeker.email)
    client.post(f"/challenges/{seeker.challenge_id}/cancel")
    with client.session_transaction() as browser:
        assert browser["_flashes"][-1][0] == "success"
    with stripe_app.app_context():
        assert challenge(seeker).status == Status.CANCELLED
        [refund] = refund_payments(seeker)
        assert refund.status == PaymentStatus.PENDING
        [reservation] = transfers("REFUND")
        assert reservation.status == "pending"
        assert services.escrow_available(challenge(seeker)) == 0  # reserved, not available
        job = refund_job()
        assert (job.status, job.attempts) == (JobStatus.RETRYING, 1)
        assert "ProviderUnavailable" in job.last_error
        assert reconciliation_differences() == []
        assert relay() == 0  # not due yet
        with transaction():
            job.available_at = utcnow() - timedelta(seconds=1)  # the backoff has passed
        assert relay() == 1
        db.session.expire_all()
        job = refund_job()
        assert (job.status, job.attempts) == (JobStatus.DONE, 2)
        [refund] = refund_payments(seeker)
        assert refund.status == PaymentStatus.SETTLED
        assert refund.external_id == ",".join(stripe_server.refunds)
        [reservation] = transfers("REFUND")
        assert (reservation.amount, reservation.status) == (ESCROW_REQUIRED, "posted")
        assert ledger.verify(db.session) == []
        assert reconciliation_differences() == []
        key = f"refund-{refund.id}-{payment_intent}"
    tries = [r for r in stripe_server.requests if r.path == REFUNDS]
    assert len(tries) == 3 and {r.idempotency_key for r in tries} == {key}
    assert len(stripe_server.refunds) == 1
    assert stripe_server.refunded(payment_intent) == ESCROW_REQUIRED


def test_a_refused_refund_voids_the_reservation_and_tells_the_admins(
    stripe_app, client, auth, seeker, stripe_server
):
    """The second of two refunds is refused after Stripe made the first. The cancel stands;
    the reservation is voided (the money stays in escrow), the refund payment is failed, and
    the platform admins are told, naming the refund Stripe made. Running the job again does
    nothing."""
    fund_through_stripe(stripe_app, client, stripe_server, seeker, amount=30_000)
    fund_through_stripe(stripe_app, client, stripe_server, seeker)
    with stripe_app.app_context():
        older, newer = intents(seeker)
        admin_id = UserFactory(is_admin=True).id
    stripe_server.fail(
        400, "invalid_request_error", "Charge is disputed.", code=None, path=REFUNDS, after=1
    )
    auth.login(seeker.email)
    client.post(f"/challenges/{seeker.challenge_id}/cancel")
    with client.session_transaction() as browser:
        assert browser["_flashes"][-1][0] == "success"
    assert (stripe_server.refunded(newer), stripe_server.refunded(older)) == (75_000, 0)
    with stripe_app.app_context():
        assert challenge(seeker).status == Status.CANCELLED
        [refund] = refund_payments(seeker)
        assert (refund.status, refund.external_id) == (PaymentStatus.FAILED, None)
        [reservation] = transfers("REFUND")
        assert (reservation.amount, reservation.status) == (ESCROW_REQUIRED, "voided")
        assert services.escrow_available(challenge(seeker)) == ESCROW_REQUIRED
        assert refund_job().status == JobStatus.DONE  # a refusal is an answer: no retry
        [alert] = alerts()
        assert alert.user_id == admin_id
        [made] = stripe_server.refunds
        assert "Charge is disputed." in alert.body and made in alert.body
        assert ledger.verify(db.session) == []

        assert send_refund(refund.id) == RefundOutcome.NOTHING_TO_DO
        assert len(alerts()) == 1
    assert len(stripe_server.refunds) == 1


def test_escrow_funded_outside_stripe_cannot_be_refunded_through_it(
    sandbox_app, stripe_server, seeker
):
    with sandbox_app.test_request_context():
        services.start_funding(manager(seeker), challenge(seeker))  # sandbox: settled at once
    sandbox_app.config.update(STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=stripe_server.url)
    with sandbox_app.app_context():
        cancel_challenge(manager(seeker), challenge(seeker))
        assert challenge(seeker).status == Status.CANCELLED
        [refund] = refund_payments(seeker)
        assert refund.status == PaymentStatus.FAILED
        assert [t.status for t in transfers("REFUND")] == ["voided"]
        assert services.escrow_available(challenge(seeker)) == ESCROW_REQUIRED
        assert ledger.verify(db.session) == []
    assert stripe_server.requests == []


def funding(
    id_: int, payment_intent: str | None, amount: int, settled_at: datetime | None = None
) -> SimpleNamespace:
    return SimpleNamespace(
        id=id_, payment_intent=payment_intent, amount=amount, status=PaymentStatus.SETTLED,
        settled_at=settled_at,
    )  # fmt: skip


def test_plan_refund_takes_from_the_newest_funding_first() -> None:
    fundings = [funding(1, "pi_a", 300), funding(2, "pi_b", 500)]
    assert plan_refund(800, fundings) == [("pi_b", 500), ("pi_a", 300)]
    assert plan_refund(200, list(reversed(fundings))) == [("pi_b", 200)]
    assert plan_refund(600, fundings) == [("pi_b", 500), ("pi_a", 100)]


def test_plan_refund_skips_what_earlier_refunds_took() -> None:
    fundings = [funding(1, "pi_a", 300), funding(2, "pi_b", 500), funding(3, "pi_c", 100)]
    # Earlier refunds of 50 and 150 took pi_c's 100 and 100 of pi_b.
    assert plan_refund(500, fundings, earlier=[50, 150]) == [("pi_b", 400), ("pi_a", 100)]


def test_plan_refund_replays_an_earlier_refund_over_the_fundings_it_could_draw_on() -> None:
    before, after = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)
    fundings = [funding(1, "pi_a", 300, before), funding(2, "pi_b", 200, after)]
    # The first refund (300) was reserved between the two: it took pi_a, not pi_b.
    reserved = datetime(2026, 1, 2, tzinfo=UTC)
    assert plan_refund(200, fundings, earlier=[(300, reserved)]) == [("pi_b", 200)]
    assert plan_refund(200, fundings, earlier=[300]) == [("pi_a", 200)]  # time unknown


def test_plan_refund_never_asks_more_than_stripe_holds() -> None:
    fundings = [funding(1, "pi_a", 300), funding(2, None, 500)]  # the second was sandbox money
    assert plan_refund(300, fundings) == [("pi_a", 300)]
    with pytest.raises(ProviderError, match="100 minor units"):
        plan_refund(400, fundings)
    with pytest.raises(ProviderError):
        plan_refund(300, fundings, earlier=[1])


def test_money_paid_after_the_need_was_cancelled_goes_straight_back(
    stripe_app, client, seeker, stripe_server
):
    """The seeker left a Checkout page open, the need was cancelled, then they paid."""
    with stripe_app.app_context(), stripe_app.test_request_context():
        late = services.start_funding(manager(seeker), challenge(seeker))
        session_id = late.external_id
        cancel_challenge(manager(seeker), challenge(seeker))
        assert refund_payments(seeker) == []  # nothing was in escrow yet
    session = stripe_server.complete(session_id)
    answer = post_event(client, stripe_server.event("checkout.session.completed", session))
    assert answer.status_code == 200
    with stripe_app.app_context():
        [refund] = refund_payments(seeker)
        assert (refund.amount, refund.status) == (ESCROW_REQUIRED, PaymentStatus.SETTLED)
        assert [(t.code, t.status) for t in transfers("FUND_ESCROW") + transfers("REFUND")] == [
            ("FUND_ESCROW", "posted"),
            ("REFUND", "posted"),
        ]
        assert services.escrow_available(challenge(seeker)) == 0
        assert ledger.verify(db.session) == []
    [call] = stripe_server.posts(REFUNDS)
    assert call.idempotency_key == f"refund-{refund.id}-{session['payment_intent']}"
    assert stripe_server.refunded(session["payment_intent"]) == ESCROW_REQUIRED


def test_money_paid_after_a_refund_goes_back_through_its_own_payment_intent(
    stripe_app, client, seeker, stripe_server
):
    """Escrow was refunded when the need was cancelled; then a checkout left open was paid.
    The second refund replays the first one's split over the fundings settled before it, so
    it draws on the late PaymentIntent, not on the one already refunded."""
    fund_through_stripe(stripe_app, client, stripe_server, seeker, ESCROW_REQUIRED - 50_000)
    with stripe_app.app_context(), stripe_app.test_request_context():
        late = services.start_funding(manager(seeker), challenge(seeker), 50_000)
        session_id = late.external_id
        cancel_challenge(manager(seeker), challenge(seeker))
    session = stripe_server.complete(session_id)
    answer = post_event(client, stripe_server.event("checkout.session.completed", session))
    assert answer.status_code == 200
    with stripe_app.app_context():
        first, late_intent = intents(seeker)
        assert [(r.amount, r.status) for r in refund_payments(seeker)] == [
            (ESCROW_REQUIRED - 50_000, PaymentStatus.SETTLED),
            (50_000, PaymentStatus.SETTLED),
        ]
        assert [t.status for t in transfers("REFUND")] == ["posted", "posted"]
        assert services.escrow_available(challenge(seeker)) == 0
        assert ledger.verify(db.session) == []
    assert stripe_server.refunded(first) == ESCROW_REQUIRED - 50_000
    assert stripe_server.refunded(late_intent) == 50_000
