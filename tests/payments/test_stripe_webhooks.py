"""POST /webhooks/stripe: only signed, recent events are believed, and each is applied once."""

from __future__ import annotations

import json
import time

import pytest

from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.discrepancies import recent_discrepancies
from marketplace.payments.models import Payment, PaymentStatus
from tests.payments.conftest import (
    ESCROW_REQUIRED,
    WEBHOOK_SECRET,
    challenge,
    manager,
    payments,
    post_event,
    stripe_event_count,
    stripe_event_ids,
    transfers,
)
from tests.payments.stripe_server import sign


def start(app, seeker) -> tuple[int, str]:
    """A pending Stripe funding of the whole escrow: (payment id, checkout session id)."""
    with app.test_request_context():
        payment = services.start_funding(manager(seeker), challenge(seeker))
        return payment.id, payment.external_id


def assert_nothing_written(app, seeker) -> None:
    with app.app_context():
        assert stripe_event_count() == 0
        assert transfers("FUND_ESCROW") == []
        assert [p.status for p in payments(seeker)] == [PaymentStatus.PENDING]
        assert services.escrow_available(challenge(seeker)) == 0


def assert_bad_request(answer, detail: str) -> None:
    assert answer.status_code == 400
    assert answer.mimetype == "application/json"
    assert answer.json["status"] == 400
    assert detail in answer.json["detail"]


def test_a_replayed_event_writes_nothing(stripe_app, client, seeker, stripe_server) -> None:
    payment_id, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    body = json.dumps(event)
    assert post_event(client, event, payload=body).json == {"received": True, "replayed": False}
    with stripe_app.app_context():
        settled_at = db.session.get(Payment, payment_id).settled_at

    # Stripe delivers the very same request again (same body, same signature).
    again = post_event(client, event, payload=body)
    assert again.status_code == 200
    assert again.json == {"received": True, "replayed": True}

    with stripe_app.app_context():
        assert stripe_event_ids() == [event["id"]]
        [transfer] = transfers("FUND_ESCROW")
        assert transfer.amount == ESCROW_REQUIRED
        [payment] = payments(seeker)
        assert payment.settled_at == settled_at
        assert services.escrow_available(challenge(seeker)) == ESCROW_REQUIRED


def test_another_event_for_a_settled_payment_posts_nothing(
    stripe_app, client, seeker, stripe_server
):
    _, session_id = start(stripe_app, seeker)
    paid = stripe_server.complete(session_id)
    first = stripe_server.event("checkout.session.completed", paid)
    second = stripe_server.event("checkout.session.async_payment_succeeded", paid)
    assert post_event(client, first).status_code == 200
    assert post_event(client, second).json == {"received": True, "replayed": False}
    with stripe_app.app_context():
        assert stripe_event_ids() == sorted([first["id"], second["id"]])
        assert len(transfers("FUND_ESCROW")) == 1
        assert services.escrow_available(challenge(seeker)) == ESCROW_REQUIRED


def test_a_forged_signature_is_refused(stripe_app, client, seeker, stripe_server) -> None:
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    answer = post_event(client, event, secret="whsec_guessed")
    assert_bad_request(answer, "signature")
    assert_nothing_written(stripe_app, seeker)


def test_a_body_changed_after_signing_is_refused(stripe_app, client, seeker, stripe_server):
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    header = sign(json.dumps(event), WEBHOOK_SECRET)
    event["data"]["object"]["amount_total"] = 1
    answer = client.post(
        "/webhooks/stripe",
        data=json.dumps(event),
        headers={"Stripe-Signature": header},
        content_type="application/json",
    )
    assert_bad_request(answer, "signature")
    assert_nothing_written(stripe_app, seeker)


def test_a_missing_signature_is_refused(stripe_app, client, seeker, stripe_server) -> None:
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    answer = client.post("/webhooks/stripe", json=event)
    assert_bad_request(answer, "signature")
    assert_nothing_written(stripe_app, seeker)


def test_a_stale_signature_is_refused(stripe_app, client, seeker, stripe_server) -> None:
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    answer = post_event(client, event, timestamp=int(time.time()) - 3600)
    assert_bad_request(answer, "tolerance")
    assert_nothing_written(stripe_app, seeker)


@pytest.mark.parametrize("ahead", [301, 3600])
def test_a_signature_from_the_future_is_refused(stripe_app, client, seeker, stripe_server, ahead):
    """Stripe's SDK checks only that a signature is not too old; one made for later (a clock
    far off, or a signature held back to be replayed) is refused too."""
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    answer = post_event(client, event, timestamp=int(time.time()) + ahead)
    assert_bad_request(answer, "in the future")
    assert_nothing_written(stripe_app, seeker)


def test_a_signature_a_little_ahead_of_our_clock_is_accepted(
    stripe_app, client, seeker, stripe_server
):
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    assert post_event(client, event, timestamp=int(time.time()) + 60).status_code == 200
    with stripe_app.app_context():
        assert len(transfers("FUND_ESCROW")) == 1


def test_a_signature_within_five_minutes_is_accepted(stripe_app, client, seeker, stripe_server):
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    assert post_event(client, event, timestamp=int(time.time()) - 240).status_code == 200
    with stripe_app.app_context():
        assert len(transfers("FUND_ESCROW")) == 1


@pytest.mark.parametrize("body", ["not json", "[]", '{"object": "v2.core.event", "id": "x"}'])
def test_a_signed_body_that_is_no_event_is_refused(stripe_app, client, seeker, body) -> None:
    answer = post_event(client, {}, payload=body)
    assert answer.status_code == 400
    assert answer.json["status"] == 400
    with stripe_app.app_context():
        assert stripe_event_count() == 0


def test_unknown_event_types_are_recorded_and_ignored(stripe_app, client, seeker, stripe_server):
    start(stripe_app, seeker)
    event = stripe_server.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert post_event(client, event).json == {"received": True, "replayed": False}
    assert post_event(client, event).json == {"received": True, "replayed": True}
    with stripe_app.app_context():
        assert stripe_event_ids() == [event["id"]]
        assert transfers("FUND_ESCROW") == []
        assert [p.status for p in payments(seeker)] == [PaymentStatus.PENDING]


@pytest.mark.parametrize(
    "metadata", [{}, {"payment_id": "nope"}, {"payment_id": "987654321"}], ids=str
)
def test_a_session_that_is_not_ours_is_recorded_and_ignored(
    stripe_app, client, seeker, stripe_server, metadata
):
    _, session_id = start(stripe_app, seeker)
    paid = stripe_server.complete(session_id)
    paid["metadata"] = metadata
    answer = post_event(client, stripe_server.event("checkout.session.completed", paid))
    assert answer.status_code == 200
    with stripe_app.app_context():
        assert stripe_event_count() == 1
        assert transfers("FUND_ESCROW") == []


def test_a_session_for_another_amount_settles_nothing(stripe_app, client, seeker, stripe_server):
    _, session_id = start(stripe_app, seeker)
    paid = stripe_server.complete(session_id)
    paid["amount_total"] = ESCROW_REQUIRED - 1
    event = stripe_server.event("checkout.session.completed", paid)
    assert post_event(client, event).status_code == 200
    with stripe_app.app_context():
        assert transfers("FUND_ESCROW") == []
        assert [p.status for p in payments(seeker)] == [PaymentStatus.PENDING]
        [kept] = recent_discrepancies()  # for finance, on the reconciliation page
        assert (kept.kind, kept.event_id, kept.amount) == (
            "not_as_sent", event["id"], ESCROW_REQUIRED - 1,
        )  # fmt: skip


def test_a_delayed_payment_settles_when_it_succeeds(stripe_app, client, seeker, stripe_server):
    _, session_id = start(stripe_app, seeker)
    paid = stripe_server.complete(session_id)
    unpaid = {**paid, "payment_status": "unpaid"}  # e.g. a bank debit: completed, not paid yet
    completed = stripe_server.event("checkout.session.completed", unpaid)
    assert post_event(client, completed).status_code == 200
    with stripe_app.app_context():
        assert transfers("FUND_ESCROW") == []
    succeeded = stripe_server.event("checkout.session.async_payment_succeeded", paid)
    assert post_event(client, succeeded).status_code == 200
    with stripe_app.app_context():
        assert len(transfers("FUND_ESCROW")) == 1
        assert [p.status for p in payments(seeker)] == [PaymentStatus.SETTLED]


@pytest.mark.parametrize(
    "event_type", ["checkout.session.expired", "checkout.session.async_payment_failed"]
)
def test_an_unpaid_session_fails_the_payment(stripe_app, client, seeker, stripe_server, event_type):
    _, session_id = start(stripe_app, seeker)
    session = {**stripe_server.sessions[session_id], "status": "expired"}
    assert post_event(client, stripe_server.event(event_type, session)).status_code == 200
    with stripe_app.app_context():
        assert [p.status for p in payments(seeker)] == [PaymentStatus.FAILED]
        assert transfers("FUND_ESCROW") == []


def test_without_a_webhook_secret_there_is_no_endpoint(sandbox_app, client) -> None:
    event = {"id": "evt_1", "object": "event", "type": "checkout.session.completed"}
    answer = post_event(client, event)
    assert answer.status_code == 404
    assert answer.json["status"] == 404
    with sandbox_app.app_context():
        assert stripe_event_count() == 0


def test_the_webhook_needs_no_csrf_token(stripe_app, client, auth, seeker, stripe_server):
    _, session_id = start(stripe_app, seeker)
    event = stripe_server.event("checkout.session.completed", stripe_server.complete(session_id))
    stripe_app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = client.post(f"/challenges/{seeker.challenge_id}/fund")  # CSRF is on ...
        answer = post_event(client, event)  # ... and Stripe cannot send a token.
    finally:
        stripe_app.config["WTF_CSRF_ENABLED"] = False
    assert refused.status_code == 400
    assert answer.status_code == 200
    with stripe_app.app_context():
        assert len(transfers("FUND_ESCROW")) == 1
