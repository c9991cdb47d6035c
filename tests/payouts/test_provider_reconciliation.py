"""Reconciliation against the provider itself: the fake Stripe's transfers of the period,
matched to the payout lines. A clean batch shows no difference; a reversal made only at Stripe,
a transfer the book never recorded, and a provider out of reach all show; the nightly job tells
the admins."""

from __future__ import annotations

import socket

import stripe
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.jobs import reconcile_with_provider
from marketplace.notifications.models import Notification
from marketplace.payouts import batches
from marketplace.payouts.models import PayoutLine
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.payments.conftest import SECRET_KEY
from tests.payouts.conftest import onboard
from tests.payouts.test_stripe_payouts import onboard_with_stripe
from tests.payouts.test_webhook_order import approved_line
from tests.second_factors import fresh_code

API = "/api/v1/finance/reconciliation"


def paid_batch(app, client, stripe_server, finance, owed) -> list[PayoutLine]:
    """The lead and the partner paid through Stripe by an approved batch (the job runs)."""
    onboard_with_stripe(app, client, stripe_server, owed.lead, owed.partner)
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
        lines = db.session.scalars(select(PayoutLine).order_by(PayoutLine.id)).all()
        assert [line.status for line in lines] == ["paid", "paid"]
        db.session.expunge_all()
        return lines


def provider_side(client, auth, finance) -> tuple[dict, list[dict]]:
    auth.login(finance.preparer)
    report = client.get(API).json
    differences = [d for c in report["currencies"] for d in c["differences"]]
    return report, differences


def test_a_clean_batch_shows_no_difference_at_the_provider(
    app, client, auth, finance, owed, stripe_app, stripe_server
):
    paid_batch(app, client, stripe_server, finance, owed)
    report, differences = provider_side(client, auth, finance)
    assert report["provider"]["provider"] == "stripe"
    assert (report["provider"]["transfers"], report["provider"]["error"]) == (2, None)
    assert differences == [] and report["clean"] is True
    assert any(r.path == "/v1/transfers" and r.method == "GET" for r in stripe_server.requests)


def test_a_reversal_made_only_at_the_provider_is_a_difference(
    app, client, auth, finance, owed, stripe_app, stripe_server
):
    first, second = paid_batch(app, client, stripe_server, finance, owed)
    stripe_server.reverse_here(first.provider_transfer_id)  # from Stripe's dashboard: no webhook
    stripe_server.reverse_here(second.provider_transfer_id, 1_000)
    report, differences = provider_side(client, auth, finance)
    assert report["clean"] is False
    assert [(d["kind"], d["payout_line_id"], d["provider_transfer_id"], d["amount"])
            for d in differences] == [
        ("reversed_at_provider", first.id, first.provider_transfer_id, first.amount),
        ("partially_reversed", second.id, second.provider_transfer_id, 1_000),
    ]  # fmt: skip
    assert "reversed there, paid in the book" in differences[0]["message"]
    page = client.get("/finance/reconciliation").get_data(as_text=True)
    assert 'data-test="difference-reversed_at_provider"' in page
    assert 'data-test="clean"' not in page


def test_transfers_the_book_does_not_have_are_differences(
    app, client, auth, finance, owed, stripe_app, stripe_server
):
    found = approved_line(app, client, stripe_server, finance, owed)  # its answer never came
    stray = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stripe_server.url})
    made = stray.v1.transfers.create(
        params={"amount": 777, "currency": "usd", "destination": found.destination}
    )
    _, differences = provider_side(client, auth, finance)
    assert sorted((d["kind"], d["provider_transfer_id"]) for d in differences) == [
        ("paid_at_provider_not_in_book", found.stripe_id),
        ("unknown_transfer", made.id),
    ]


def test_the_period_is_chosen_and_checked(
    app, client, auth, finance, owed, stripe_app, stripe_server
):
    paid_batch(app, client, stripe_server, finance, owed)
    auth.login(finance.preparer)
    last_year = client.get(f"{API}?start=2025-01-01&end=2025-01-31").json
    assert last_year["provider"]["start"] == "2025-01-01"
    assert last_year["provider"]["transfers"] == 0 and last_year["clean"] is True
    assert client.get(f"{API}?start=2025-02-01&end=2025-01-01").status_code == 422
    assert client.get(f"{API}?start=2020-01-01&end=2025-01-01").status_code == 422
    page = client.get("/finance/reconciliation?start=2025-02-01&end=2025-01-01")
    assert page.status_code == 422
    # Days at the calendar's edges are refused in words, not a date overflow (a 500).
    for query in ("end=0001-01-01", "start=0001-01-01&end=0001-01-02", "end=9999-12-31"):
        answer = client.get(f"{API}?{query}")
        assert answer.status_code == 422, query
        assert "A day from 2000-01-01" in str(answer.json["errors"])


def test_a_provider_out_of_reach_is_not_clean_and_no_error_page(
    app, client, auth, finance, owed, stripe_app, stripe_server
):
    paid_batch(app, client, stripe_server, finance, owed)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        stripe_app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{unused.getsockname()[1]}"
    report, differences = provider_side(client, auth, finance)
    assert report["clean"] is False and differences == []
    assert "stripe could not be asked" in report["provider"]["error"]
    page = client.get("/finance/reconciliation")
    assert page.status_code == 200
    assert 'data-test="provider-error"' in page.get_data(as_text=True)


def test_the_sandbox_answers_from_our_records(app, client, auth, finance, owed, sandbox_app):
    onboard(app, owed.lead, owed.partner)
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
    report, differences = provider_side(client, auth, finance)
    assert (report["provider"]["provider"], report["provider"]["transfers"]) == ("sandbox", 2)
    assert differences == [] and report["clean"] is True


def test_the_nightly_check_tells_the_admins_of_a_reversal_made_only_at_stripe(
    app, client, finance, owed, stripe_app, stripe_server
):
    first, _ = paid_batch(app, client, stripe_server, finance, owed)
    with app.app_context():
        admin = UserFactory(is_admin=True).id
        assert reconcile_with_provider()["differences"] == []
        assert notifications_of(admin) == []
    stripe_server.reverse_here(first.provider_transfer_id)
    with app.app_context():
        found = reconcile_with_provider()
        assert (found["transfers"], found["error"]) == (2, None)
        [message] = found["differences"]
        assert f"payout line {first.id}" in message
        [alert] = notifications_of(admin)
        assert alert.kind == "provider_differs" and message in alert.body
        assert alert.link.startswith("/finance/reconciliation?start=")


def notifications_of(user_id: int) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user_id)))
