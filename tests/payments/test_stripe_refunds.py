"""Cancelling a need funded through Stripe gives its escrow back through Stripe Refunds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from marketplace.challenges.models import Status
from marketplace.challenges.services import cancel_challenge, open_challenge
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.models import PaymentKind, PaymentStatus
from marketplace.payments.provider import ProviderError
from marketplace.payments.stripe_provider import plan_refund
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


def test_cancelling_an_open_need_refunds_through_stripe(
    stripe_app, client, auth, seeker, stripe_server
):
    fund_through_stripe(stripe_app, client, stripe_server, seeker)
    with stripe_app.app_context():
        open_challenge(manager(seeker), challenge(seeker))
        [payment_intent] = intents(seeker)

    auth.login(seeker.email)
    answer = client.post(f"/challenges/{seeker.challenge_id}/cancel")
    assert answer.status_code == 302
    with client.session_transaction() as browser:
        assert browser["_flashes"][-1][0] == "success"

    [call] = stripe_server.posts(REFUNDS)
    assert call.params == {
        "payment_intent": payment_intent,
        "amount": str(ESCROW_REQUIRED),
        "metadata[challenge_id]": str(seeker.challenge_id),
        "metadata[refund]": "1",
    }
    assert call.idempotency_key == f"refund-{seeker.challenge_id}-1-{payment_intent}"
    assert stripe_server.refunded(payment_intent) == ESCROW_REQUIRED
    [refund_id] = stripe_server.refunds

    with stripe_app.app_context():
        assert challenge(seeker).status == Status.CANCELLED
        [refund] = refund_payments(seeker)
        assert (refund.provider, refund.status) == ("stripe", PaymentStatus.SETTLED)
        assert refund.amount == ESCROW_REQUIRED
        assert refund.external_id == refund_id
        [transfer] = transfers("REFUND")
        assert transfer.amount == ESCROW_REQUIRED
        assert services.escrow_available(challenge(seeker)) == 0


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
        f"refund-{seeker.challenge_id}-1-{newer}",
        f"refund-{seeker.challenge_id}-1-{older}",
    ]


def test_a_failed_refund_changes_nothing_and_a_retry_refunds_once(
    stripe_app, client, auth, seeker, stripe_server
):
    """The second of two refunds fails: the cancel is refused and rolled back, though Stripe
    already made the first. Retrying sends the same idempotency keys: Stripe answers the
    first from its cache and makes only the second, so nobody gets money back twice."""
    fund_through_stripe(stripe_app, client, stripe_server, seeker, amount=30_000)
    fund_through_stripe(stripe_app, client, stripe_server, seeker)
    with stripe_app.app_context():
        older, newer = intents(seeker)
    stripe_server.fail(
        400, "invalid_request_error", "Charge is disputed.", code=None, path=REFUNDS, after=1
    )
    auth.login(seeker.email)
    client.post(f"/challenges/{seeker.challenge_id}/cancel")
    with client.session_transaction() as browser:
        [(category, message)] = browser["_flashes"]
    assert category == "error"
    assert message == "The payment provider refused the refund: Charge is disputed."
    assert (stripe_server.refunded(newer), stripe_server.refunded(older)) == (75_000, 0)
    with stripe_app.app_context():
        assert challenge(seeker).status == Status.DRAFT
        assert refund_payments(seeker) == []
        assert transfers("REFUND") == []
        assert services.escrow_available(challenge(seeker)) == ESCROW_REQUIRED

    client.post(f"/challenges/{seeker.challenge_id}/cancel")
    assert (stripe_server.refunded(newer), stripe_server.refunded(older)) == (75_000, 30_000)
    replayed = [r for r in stripe_server.requests if r.path == REFUNDS and r.replayed]
    assert [r.params["payment_intent"] for r in replayed] == [newer]
    with stripe_app.app_context():
        assert challenge(seeker).status == Status.CANCELLED
        [refund] = refund_payments(seeker)
        assert refund.external_id == ",".join(stripe_server.refunds)
        assert [t.amount for t in transfers("REFUND")] == [ESCROW_REQUIRED]
        assert services.escrow_available(challenge(seeker)) == 0


def test_a_refused_refund_is_a_conflict(stripe_app, client, seeker, stripe_server) -> None:
    fund_through_stripe(stripe_app, client, stripe_server, seeker)
    stripe_server.fail(401, "invalid_request_error", "Invalid API Key provided.", code=None)
    with stripe_app.app_context():
        with pytest.raises(Conflict, match="Invalid API Key provided"):
            cancel_challenge(manager(seeker), challenge(seeker))
        db.session.rollback()
        assert challenge(seeker).status == Status.DRAFT
        assert transfers("REFUND") == []


def test_escrow_funded_outside_stripe_cannot_be_refunded_through_it(
    sandbox_app, stripe_server, seeker
):
    with sandbox_app.test_request_context():
        services.start_funding(manager(seeker), challenge(seeker))  # sandbox: settled at once
    sandbox_app.config.update(STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=stripe_server.url)
    with sandbox_app.app_context(), pytest.raises(Conflict, match="not paid through Stripe"):
        cancel_challenge(manager(seeker), challenge(seeker))
    assert stripe_server.requests == []


def funding(id_: int, payment_intent: str | None, amount: int) -> SimpleNamespace:
    return SimpleNamespace(
        id=id_, payment_intent=payment_intent, amount=amount, status=PaymentStatus.SETTLED
    )


def test_plan_refund_takes_from_the_newest_funding_first() -> None:
    fundings = [funding(1, "pi_a", 300), funding(2, "pi_b", 500)]
    assert plan_refund(800, fundings) == [("pi_b", 500), ("pi_a", 300)]
    assert plan_refund(200, list(reversed(fundings))) == [("pi_b", 200)]
    assert plan_refund(600, fundings) == [("pi_b", 500), ("pi_a", 100)]


def test_plan_refund_skips_what_earlier_refunds_took() -> None:
    fundings = [funding(1, "pi_a", 300), funding(2, "pi_b", 500), funding(3, "pi_c", 100)]
    # Earlier refunds of 50 and 150 took pi_c's 100 and 100 of pi_b.
    assert plan_refund(500, fundings, earlier=[50, 150]) == [("pi_b", 400), ("pi_a", 100)]


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
        assert [t.code for t in transfers("FUND_ESCROW") + transfers("REFUND")] == [
            "FUND_ESCROW",
            "REFUND",
        ]
        assert services.escrow_available(challenge(seeker)) == 0
    assert stripe_server.refunded(session["payment_intent"]) == ESCROW_REQUIRED
