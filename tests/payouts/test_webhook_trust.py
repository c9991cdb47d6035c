"""Signed but wrong transfer webhooks change nothing and are listed for finance: the handlers
check that the event matches what we sent, not only the line its metadata names."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import ledger
from ledger import Transfer
from marketplace.extensions import db
from marketplace.payments.models import ProviderDiscrepancy
from marketplace.payouts.models import PayoutLine
from tests.payments.conftest import post_event
from tests.payouts.test_webhook_order import LEAD_SHARE, approved_line

RECONCILIATION = "/api/v1/finance/reconciliation"


def untouched(app, found) -> None:
    with app.app_context():
        line = db.session.get(PayoutLine, found.line_id)
        assert (line.status, line.provider_transfer_id) == ("reserved", None)
        assert db.session.get(Transfer, found.transfer_id).status == "pending"
        assert ledger.verify(db.session) == []


def recorded(app) -> list[ProviderDiscrepancy]:
    with app.app_context():
        rows = list(
            db.session.scalars(select(ProviderDiscrepancy).order_by(ProviderDiscrepancy.id))
        )
        db.session.expunge_all()
        return rows


def listed_for_finance(client, auth, finance) -> tuple[list[dict], str]:
    auth.login(finance.preparer)
    report = client.get(RECONCILIATION).json
    page = client.get("/finance/reconciliation").get_data(as_text=True)
    return report["provider_discrepancies"], page


def test_a_transfer_for_a_batch_nobody_approved_changes_nothing_and_is_listed(
    app, client, auth, finance, owed, stripe_app, stripe_server
):
    found = approved_line(app, client, stripe_server, finance, owed, approve=False)
    event = stripe_server.transfer_event("transfer.created", found.stripe_id)
    assert post_event(client, event).status_code == 200
    untouched(app, found)
    [row] = recorded(app)
    assert (row.kind, row.event_id) == ("not_as_sent", event["id"])
    assert row.payout_line_id == found.line_id
    assert (row.object_id, row.amount, row.currency) == (found.stripe_id, LEAD_SHARE, "USD")
    assert "is prepared: nobody approved sending it" in row.message
    listed, page = listed_for_finance(client, auth, finance)
    assert [(d["kind"], d["payout_line_id"], d["event_id"]) for d in listed] == [
        ("not_as_sent", found.line_id, event["id"])
    ]
    assert f'data-test="provider-discrepancy-{row.id}"' in page
    assert "nobody approved sending it" in page
    # The reversal of it is refused the same way.
    stripe_server.reverse_here(found.stripe_id)
    reversed_ = stripe_server.transfer_event("transfer.reversed", found.stripe_id)
    assert post_event(client, reversed_).status_code == 200
    untouched(app, found)
    assert len(recorded(app)) == 2


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"amount": LEAD_SHARE + 1}, "it is for 600001 minor units, the line for 600000"),
        ({"currency": "eur"}, "it is in eur, the line in USD"),
        ({"transfer_group": None}, "neither the line's idempotency key nor its transfer group"),
        ({"destination": "acct_someone_else"}, "it went to acct_someone_else"),
    ],
    ids=["amount", "currency", "not-our-key", "destination"],
)
def test_a_transfer_that_is_not_what_we_sent_changes_nothing_and_is_listed(
    app, client, auth, finance, owed, stripe_app, stripe_server, change, reason
):
    found = approved_line(app, client, stripe_server, finance, owed)
    event = stripe_server.transfer_event("transfer.created", found.stripe_id)
    event["data"]["object"].update(change)
    assert post_event(client, event).status_code == 200
    untouched(app, found)
    [row] = recorded(app)
    assert row.kind == "not_as_sent" and reason in row.message
    listed, _ = listed_for_finance(client, auth, finance)
    assert [d["message"] for d in listed] == [row.message]


def test_a_transfer_naming_another_transfer_of_a_paid_line_is_listed(
    app, client, auth, finance, owed, stripe_app, stripe_server
):
    found = approved_line(app, client, stripe_server, finance, owed)
    assert post_event(client, stripe_server.transfer_event("transfer.created", found.stripe_id))
    event = stripe_server.transfer_event("transfer.reversed", found.stripe_id)
    event["data"]["object"].update(id="tr_not_the_one_we_recorded", reversed=True)
    assert post_event(client, event).status_code == 200
    with app.app_context():
        assert db.session.get(PayoutLine, found.line_id).status == "paid"
    [row] = recorded(app)
    assert f"the line was paid by transfer {found.stripe_id}" in row.message


@pytest.mark.parametrize("metadata", [{}, {"payout_line_id": "987654321"}], ids=["none", "unknown"])
def test_a_transfer_that_names_no_line_of_ours_is_listed(
    app, client, finance, stripe_app, stripe_server, metadata
):
    transfer = {"id": "tr_manual", "object": "transfer", "amount": 500, "currency": "usd",
                "metadata": metadata, "reversed": False}  # fmt: skip
    assert post_event(client, stripe_server.event("transfer.created", transfer)).status_code == 200
    [row] = recorded(app)
    assert (row.kind, row.object_id, row.amount) == ("unknown_transfer", "tr_manual", 500)


def test_only_platform_finance_sees_the_discrepancies(
    app, client, auth, finance, owed, stripe_app, stripe_server, people
):
    found = approved_line(app, client, stripe_server, finance, owed, approve=False)
    post_event(client, stripe_server.transfer_event("transfer.created", found.stripe_id))
    auth.login(owed.lead)
    assert client.get(RECONCILIATION).status_code == 403
    assert client.get("/finance/reconciliation").status_code == 403
