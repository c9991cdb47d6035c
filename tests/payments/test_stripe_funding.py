"""Funding a need's escrow through Stripe Checkout, end to end against the fake Stripe API:
the request Stripe receives, the pending payment, the webhook that settles it."""

from __future__ import annotations

import socket

import pytest
import stripe

from marketplace.challenges.models import Status
from marketplace.challenges.services import open_challenge
from marketplace.errors import Conflict
from marketplace.payments import services
from marketplace.payments.models import PaymentStatus
from marketplace.payments.registry import current_provider
from marketplace.payments.stripe_provider import StripeProvider
from tests.payments.conftest import (
    ESCROW_REQUIRED,
    SECRET_KEY,
    challenge,
    manager,
    payments,
    post_event,
    stripe_event_count,
    stripe_event_ids,
    transfers,
)

SESSIONS = "/v1/checkout/sessions"


def test_stripe_is_the_provider_when_a_secret_key_is_set(stripe_app, stripe_server) -> None:
    with stripe_app.app_context():
        provider = current_provider()
        assert isinstance(provider, StripeProvider)
        assert (provider.name, provider.is_sandbox) == ("stripe", False)


def test_funding_through_stripe_end_to_end(stripe_app, client, auth, seeker, stripe_server):
    auth.login(seeker.email)
    answer = client.post(f"/challenges/{seeker.challenge_id}/fund")

    # The seeker is sent to the Checkout page of the session Stripe created.
    [call] = stripe_server.posts(SESSIONS)
    [session_id] = stripe_server.sessions
    session = stripe_server.sessions[session_id]
    assert answer.status_code == 302
    assert answer.headers["Location"] == session["url"]

    with stripe_app.app_context():
        [payment] = payments(seeker)
        assert payment.provider == "stripe"
        assert payment.status == PaymentStatus.PENDING
        assert payment.amount == ESCROW_REQUIRED and payment.currency == "USD"
        assert payment.external_id == session_id
        assert payment.checkout_url == session["url"]
        assert services.escrow_available(challenge(seeker)) == 0
        assert transfers("FUND_ESCROW") == []
        payment_id = payment.id

    # What went over the wire, as the SDK encodes it.
    params = call.params
    assert params["mode"] == "payment"
    assert params["line_items[0][quantity]"] == "1"
    assert params["line_items[0][price_data][currency]"] == "usd"
    assert params["line_items[0][price_data][unit_amount]"] == str(ESCROW_REQUIRED)
    assert (
        "Recyclable mono-material pouch"
        in (params["line_items[0][price_data][product_data][name]"])
    )
    assert params["metadata[payment_id]"] == str(payment_id)
    assert params["metadata[challenge_id]"] == str(seeker.challenge_id)
    assert params["client_reference_id"] == str(payment_id)
    assert params["success_url"].endswith(f"/payments/{payment_id}/done")
    assert params["cancel_url"].endswith(f"/challenges/{seeker.challenge_id}")
    assert call.idempotency_key == f"funding-{payment_id}"
    assert call.stripe_version == stripe.api_version
    assert call.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert session["amount_total"] == ESCROW_REQUIRED and session["currency"] == "usd"

    # The seeker pays; Stripe calls the webhook.
    paid = stripe_server.complete(session_id)
    event = stripe_server.event("checkout.session.completed", paid)
    delivered = post_event(client, event)
    assert delivered.status_code == 200
    assert delivered.json == {"received": True, "replayed": False}

    with stripe_app.app_context():
        [payment] = payments(seeker)
        assert payment.status == PaymentStatus.SETTLED
        assert payment.settled_at is not None
        assert payment.payment_intent == paid["payment_intent"]
        assert services.escrow_available(challenge(seeker)) == ESCROW_REQUIRED
        [transfer] = transfers("FUND_ESCROW")
        assert transfer.amount == ESCROW_REQUIRED
        assert transfer.reference == f"challenge:{seeker.challenge_id}"
        assert stripe_event_ids() == [event["id"]]
        # Money promised is money held: now the need may open.
        assert open_challenge(manager(seeker), challenge(seeker)).status == Status.OPEN

    done = client.get(f"/payments/{payment_id}/done").get_data(as_text=True)
    assert "Payment received" in done


def test_a_declined_funding_fails_with_a_clear_message(
    stripe_app, client, auth, seeker, stripe_server
):
    stripe_server.fail(402, "card_error", "Your card was declined.", path=SESSIONS)
    auth.login(seeker.email)
    answer = client.post(f"/challenges/{seeker.challenge_id}/fund")

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/challenges/{seeker.challenge_id}")
    with client.session_transaction() as browser:
        [(category, message)] = browser["_flashes"]
    assert category == "error"
    assert message == "The payment provider refused: Your card was declined."
    assert [r.status for r in stripe_server.requests] == [402]
    with stripe_app.app_context():
        [payment] = payments(seeker)
        assert payment.status == PaymentStatus.FAILED
        assert payment.external_id is None and payment.checkout_url is None
        assert services.escrow_available(challenge(seeker)) == 0
        assert transfers("FUND_ESCROW") == []
        assert stripe_event_count() == 0

    # Trying again is a new payment, with a key of its own, and it goes through.
    again = client.post(f"/challenges/{seeker.challenge_id}/fund")
    [session_id] = stripe_server.sessions
    assert again.headers["Location"] == stripe_server.sessions[session_id]["url"]
    with stripe_app.app_context():
        failed, pending = payments(seeker)
        assert (failed.status, pending.status) == (PaymentStatus.FAILED, PaymentStatus.PENDING)
    [call] = stripe_server.posts(SESSIONS)
    assert call.idempotency_key == f"funding-{pending.id}"


def test_the_service_raises_conflict_when_stripe_refuses(stripe_app, seeker, stripe_server):
    stripe_server.fail(400, "invalid_request_error", "Amount must be at least 50 cents", code=None)
    with stripe_app.test_request_context():
        with pytest.raises(Conflict, match="Amount must be at least 50 cents"):
            services.start_funding(manager(seeker), challenge(seeker))
        [payment] = payments(seeker)
        assert payment.status == PaymentStatus.FAILED


def test_stripe_out_of_reach_is_a_conflict_not_a_crash(stripe_app, seeker) -> None:
    with socket.socket() as unused:  # a port nobody listens on once this socket closes
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    stripe_app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"
    with stripe_app.test_request_context():
        with pytest.raises(Conflict, match="The payment provider refused"):
            services.start_funding(manager(seeker), challenge(seeker))
        [payment] = payments(seeker)
        assert payment.status == PaymentStatus.FAILED
        assert transfers("FUND_ESCROW") == []


def test_a_retried_funding_request_creates_one_session(stripe_app, seeker, stripe_server):
    """The SDK retries a 500 with the same Idempotency-Key; Stripe answers the retry."""
    stripe_server.fail(500, "api_error", "Something went wrong on Stripe's end.", code=None)
    with stripe_app.test_request_context():
        payment = services.start_funding(manager(seeker), challenge(seeker))
        assert payment.status == PaymentStatus.PENDING
        assert payment.external_id in stripe_server.sessions
    first, retry = stripe_server.requests
    assert (first.status, retry.status) == (500, 200)
    assert first.idempotency_key == retry.idempotency_key == f"funding-{payment.id}"
    assert len(stripe_server.sessions) == 1


def test_the_sandbox_is_still_the_default(sandbox_app, seeker) -> None:
    with sandbox_app.test_request_context():
        payment = services.start_funding(manager(seeker), challenge(seeker))
        assert (payment.provider, payment.status) == ("sandbox", PaymentStatus.SETTLED)
        assert services.escrow_available(challenge(seeker)) == ESCROW_REQUIRED
