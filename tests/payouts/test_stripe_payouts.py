"""Payouts through Stripe Connect, against the local fake Stripe server and the real SDK:
onboarding, ``account.updated``, one transfer per line, refusals and reversals."""

from __future__ import annotations

from sqlalchemy import select

import ledger
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.payouts import batches
from marketplace.payouts.accounts import payout_account_of, start_onboarding
from marketplace.payouts.models import PayoutLine
from tests.challenges.conftest import user
from tests.payments.conftest import post_event
from tests.second_factors import fresh_code


def onboard_with_stripe(app, client, stripe_server, *emails: str, enable: bool = True) -> None:
    for email in emails:
        with app.app_context(), app.test_request_context():
            account, url = start_onboarding(user(email))
            assert url.startswith("https://connect.stripe.com/setup/")
            external_id = account.external_id
            assert not account.payouts_enabled
        if enable:
            updated = stripe_server.enable_payouts(external_id)
            event = stripe_server.event("account.updated", updated)
            assert post_event(client, event).json == {"received": True, "replayed": False}
            assert post_event(client, event).json == {"received": True, "replayed": True}


def payable(email: str):
    return chart.payable(db.session, user(email).id, "USD")


def test_onboarding_creates_an_express_account_and_the_webhook_enables_it(
    app, client, owed, stripe_app, stripe_server
):
    onboard_with_stripe(app, client, stripe_server, owed.lead)
    (created,) = stripe_server.posts("/v1/accounts")
    assert created.data["type"] == "express"
    assert created.data["capabilities"] == {"transfers": {"requested": "true"}}
    assert created.idempotency_key == f"connect-account-{user_id(app, owed.lead)}"
    (link,) = stripe_server.posts("/v1/account_links")
    assert link.data["type"] == "account_onboarding"
    with app.app_context():
        assert payout_account_of(user(owed.lead)).payouts_enabled


def user_id(app, email: str) -> int:
    with app.app_context():
        return user(email).id


def test_an_approved_batch_sends_one_transfer_per_line(
    app, client, finance, owed, stripe_app, stripe_server
):
    onboard_with_stripe(app, client, stripe_server, owed.lead, owed.partner)
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
        lines = db.session.scalars(select(PayoutLine).order_by(PayoutLine.id)).all()
        assert [line.status for line in lines] == ["paid", "paid"]
        sent = stripe_server.posts("/v1/transfers")
        assert sorted(int(r.data["amount"]) for r in sent) == [400_000, 600_000]
        assert {r.idempotency_key for r in sent} == {f"payout-line-{line.id}" for line in lines}
        assert {line.provider_transfer_id for line in lines} == set(stripe_server.transfers)
        assert (payable(owed.lead).available, payable(owed.lead).debits_pending) == (0, 0)
        assert ledger.verify(db.session) == []


def test_a_refused_transfer_voids_its_reservation_and_the_solver_is_owed_again(
    app, client, finance, owed, stripe_app, stripe_server
):
    onboard_with_stripe(app, client, stripe_server, owed.lead, owed.partner)
    stripe_server.fail(
        400, "invalid_request_error", "Insufficient funds in Stripe account.",
        code="balance_insufficient", path="/v1/transfers", after=1,
    )  # fmt: skip
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
        lines = db.session.scalars(select(PayoutLine).order_by(PayoutLine.id)).all()
        assert [line.status for line in lines] == ["paid", "failed"]
        assert "Insufficient funds" in lines[1].error
        failed_email = owed.lead if lines[1].user_id == user(owed.lead).id else owed.partner
        account = payable(failed_email)
        assert (account.available, account.debits_pending) == (lines[1].amount, 0)
        assert db.session.get(type(batch), batch.id).status == "completed"
        assert ledger.verify(db.session) == []


def test_a_reversed_transfer_makes_the_amount_owed_again_once(
    app, client, finance, owed, stripe_app, stripe_server
):
    onboard_with_stripe(app, client, stripe_server, owed.lead)
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
        line = db.session.scalar(select(PayoutLine))
        made = stripe_server.transfers[line.provider_transfer_id]
    # A partial reversal changes nothing by itself (finance reconciles it by hand) ...
    partial = dict(made, amount_reversed=100)
    assert post_event(client, stripe_server.event("transfer.reversed", partial)).status_code == 200
    with app.app_context():
        assert db.session.get(PayoutLine, line.id).status == "paid"
        assert payable(owed.lead).available == 0
    # ... the full reversal makes the payout owed again, once.
    transfer = dict(made, reversed=True, amount_reversed=made["amount"])
    event = stripe_server.event("transfer.reversed", transfer)
    assert post_event(client, event).status_code == 200
    assert post_event(client, event).json["replayed"] is True
    with app.app_context():
        assert db.session.get(PayoutLine, line.id).status == "reversed"
        assert payable(owed.lead).available == 600_000
        assert ledger.verify(db.session) == []
