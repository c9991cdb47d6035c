"""Webhooks in any order, twice, before or after the sender's answer: one payout line ends in
the right state, and the book verifies.

The line's batch is approved, but its sending job is not run: the test makes the transfer at
the fake Stripe itself (as the sender would: the line's idempotency key and transfer group),
and plays the sender's answer by calling ``settlement.mark_paid`` as the sender does. Events
are signed and posted to the webhook, as Stripe delivers them: a ``transfer.created`` carries
the transfer as it was created, a ``transfer.reversed`` as it was after the reversal.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
import stripe
from sqlalchemy import select

import ledger
from ledger import Transfer, utcnow
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.payments.models import ProviderDiscrepancy
from marketplace.payouts import batches, settlement
from marketplace.payouts.models import PayoutBatch, PayoutLine
from marketplace.value.earnings import earnings
from tests.challenges.conftest import user
from tests.payments.conftest import SECRET_KEY, post_event
from tests.payouts.test_stripe_payouts import onboard_with_stripe

LEAD_SHARE = 600_000
STEPS = ("created", "reversed", "answer")


def approved_line(app, client, stripe_server, finance, owed, *, approve: bool = True):
    """One reserved line (the lead's 6,000.00) in a batch approved (or only prepared), and
    the transfer Stripe made for it."""
    onboard_with_stripe(app, client, stripe_server, owed.lead)
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        if approve:  # approved, without the job that would send it
            batch.status = "approved"
            batch.approved_by_id = user(finance.approver).id
            batch.approved_at = utcnow()
        db.session.commit()
        line = db.session.scalar(select(PayoutLine).where(PayoutLine.batch_id == batch.id))
        found = SimpleNamespace(
            batch_id=batch.id, line_id=line.id, transfer_id=line.transfer_id,
            destination=line.payout_account.external_id, user_id=line.user_id,
        )  # fmt: skip
    assert line.amount == LEAD_SHARE
    client_ = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stripe_server.url})
    made = client_.v1.transfers.create(
        params={
            "amount": LEAD_SHARE, "currency": "usd", "destination": found.destination,
            "metadata": {"payout_line_id": str(found.line_id),
                         "payout_batch_id": str(found.batch_id)},
            "transfer_group": f"payout-line-{found.line_id}",
        },
        options={"idempotency_key": f"payout-line-{found.line_id}"},
    )  # fmt: skip
    found.stripe_id = made.id
    return found


def line_state(app, found) -> SimpleNamespace:
    with app.app_context():
        line = db.session.get(PayoutLine, found.line_id)
        payable = chart.payable(db.session, found.user_id, "USD")
        payout = db.session.get(Transfer, found.transfer_id)
        reversal = db.session.scalar(select(Transfer).where(Transfer.reverses_id == payout.id))
        return SimpleNamespace(
            status=line.status,
            provider_transfer_id=line.provider_transfer_id,
            owed=payable.available,
            pending=payable.debits_pending,
            payout=payout.status,
            reversed=reversal is not None,
            batch=db.session.get(PayoutBatch, found.batch_id).status,
            problems=ledger.verify(db.session),
            discrepancies=db.session.scalars(select(ProviderDiscrepancy.kind)).all(),
        )


def answer(app, found) -> bool:
    """What the sender does with Stripe's answer to its request."""
    with app.app_context():
        return settlement.mark_paid(found.line_id, found.stripe_id)


@pytest.mark.parametrize("order", list(itertools.permutations(STEPS)), ids="-".join)
def test_every_order_of_created_reversed_and_answer_ends_reversed(
    app, client, finance, owed, stripe_app, stripe_server, order
):
    found = approved_line(app, client, stripe_server, finance, owed)
    created = stripe_server.transfer_event("transfer.created", found.stripe_id)
    stripe_server.reverse_here(found.stripe_id)
    reversed_ = stripe_server.transfer_event("transfer.reversed", found.stripe_id)
    events = {"created": created, "reversed": reversed_}
    for step in order:
        for delivery in range(2):  # each delivered twice
            if step == "answer":
                answer(app, found)
                continue
            posted = post_event(client, events[step])
            assert posted.status_code == 200
            assert posted.json["replayed"] is bool(delivery)

    state = line_state(app, found)
    assert (state.status, state.provider_transfer_id) == ("reversed", found.stripe_id)
    assert (state.owed, state.pending) == (LEAD_SHARE, 0), "the solver is owed it again"
    assert (state.payout, state.reversed) == ("posted", True)
    assert state.batch == "completed"
    assert state.problems == [] and state.discrepancies == []
    with app.app_context():
        [usd] = earnings(user(owed.lead))
        assert usd.owed == LEAD_SHARE and usd.paid == 0
        assert sum(line.amount for line in usd.lines) == usd.owed


@pytest.mark.parametrize("order", [("created", "answer"), ("answer", "created")], ids="-".join)
def test_a_transfer_made_ends_paid_once_whichever_says_so_first(
    app, client, finance, owed, stripe_app, stripe_server, order
):
    found = approved_line(app, client, stripe_server, finance, owed)
    created = stripe_server.transfer_event("transfer.created", found.stripe_id)
    outcomes = []
    for step in order:
        for _ in range(2):
            if step == "answer":
                outcomes.append(answer(app, found))
            else:
                assert post_event(client, created).status_code == 200
    assert outcomes == [order[0] == "answer", False], "only the first word posts"
    state = line_state(app, found)
    assert (state.status, state.provider_transfer_id) == ("paid", found.stripe_id)
    assert (state.owed, state.pending, state.payout) == (0, 0, "posted")
    assert state.batch == "completed"
    assert state.problems == [] and state.discrepancies == []


def test_a_partial_reversal_before_the_answer_pays_the_line_and_tells_finance(
    app, client, finance, owed, stripe_app, stripe_server
):
    found = approved_line(app, client, stripe_server, finance, owed)
    stripe_server.reverse_here(found.stripe_id, 100_000)
    partial = stripe_server.transfer_event("transfer.reversed", found.stripe_id)
    assert post_event(client, partial).status_code == 200
    assert answer(app, found) is False
    state = line_state(app, found)
    assert (state.status, state.owed, state.payout, state.reversed) == ("paid", 0, "posted", False)
    assert state.discrepancies == ["partial_reversal"]
    assert state.problems == []


def test_an_answer_after_a_refusal_is_listed_not_applied(
    app, client, finance, owed, stripe_app, stripe_server
):
    """The book voided the line (a refusal, or finance released it), then Stripe says it was
    paid after all: nothing can be posted, so finance is told."""
    found = approved_line(app, client, stripe_server, finance, owed)
    with app.app_context():
        assert settlement.mark_failed(found.line_id, "refused") is True
        assert settlement.mark_failed(found.line_id, "refused again") is False
    created = stripe_server.transfer_event("transfer.created", found.stripe_id)
    assert post_event(client, created).status_code == 200
    assert answer(app, found) is False
    state = line_state(app, found)
    assert (state.status, state.owed, state.payout) == ("failed", LEAD_SHARE, "voided")
    assert state.discrepancies == ["paid_but_settled_otherwise"] * 2
    assert state.problems == []
