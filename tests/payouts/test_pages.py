"""The finance desk's payout pages: prepare with a preview, four eyes, approve, reject."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.payouts.models import PayoutBatch, PayoutLine
from tests.challenges.conftest import user
from tests.payouts.conftest import onboard
from tests.second_factors import fresh_code

PAGE = "/finance/payouts"


def count_batches(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(PayoutBatch.id)))


def prepare_through_the_page(client, minimum: str = "100.00") -> int:
    response = client.post(PAGE, data={"currency": "USD", "minimum": minimum})
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/finance/payouts/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def test_the_preparer_waits_and_a_second_finance_user_approves_and_it_pays(
    app, client, auth, sandbox_app, finance, owed
):
    onboard(app, owed.lead, owed.partner)
    auth.login(finance.preparer)
    home = client.get("/").get_data(as_text=True)
    assert 'data-test="payouts-link"' in home
    preview = client.get(PAGE, query_string={"currency": "USD", "minimum": "1,000.00"})
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "<strong>2</strong> solvers" in text and "10,000.00 USD" in text
    assert "Sandbox" in text
    assert count_batches(app) == 0  # a preview reserves nothing
    batch_id = prepare_through_the_page(client)
    page = client.get(f"{PAGE}/{batch_id}").get_data(as_text=True)
    assert f"Batch {batch_id} prepared" in page
    assert "waiting for a second finance user" in page
    assert 'data-test="approve"' not in page
    assert "6,000.00 USD" in page and "4,000.00 USD" in page
    refused = client.post(f"{PAGE}/{batch_id}/approve", follow_redirects=True)
    assert "Four eyes" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(PayoutBatch, batch_id).status == "prepared"
    listing = client.get(PAGE).get_data(as_text=True)
    assert f'data-test="batch-{batch_id}"' in listing and "10,000.00 USD" in listing

    auth.logout()
    auth.login(finance.approver)
    page = client.get(f"{PAGE}/{batch_id}").get_data(as_text=True)
    assert 'data-test="approve"' in page
    with app.app_context():
        code = fresh_code(finance.approver)
    approved = client.post(f"{PAGE}/{batch_id}/approve", data={"code": code}, follow_redirects=True)
    text = approved.get_data(as_text=True)
    assert "approved and sent" in text
    assert 'data-test="status">completed' in text
    assert "sandbox_tr_payout-line-" in text and "2 of 2 sent: 2 paid" in text
    with app.app_context():
        batch = db.session.get(PayoutBatch, batch_id)
        assert batch.status == "completed"
        assert batch.approved_by_id == user(finance.approver).id
        lines = db.session.scalars(select(PayoutLine).where(PayoutLine.batch_id == batch_id))
        assert {line.status for line in lines} == {"paid"}
    again = client.post(f"{PAGE}/{batch_id}/approve", follow_redirects=True)
    assert "A completed batch cannot be approved." in again.get_data(as_text=True)
    progress = client.get(f"/api/v1/payout-batches/{batch_id}/progress").get_json()
    assert progress["done"] == 2 and progress["counts"]["paid"] == 2


def test_the_progress_bar_polls_while_the_batch_is_sending(
    app, client, auth, sandbox_app, finance, owed
):
    onboard(app, owed.lead, owed.partner)
    auth.login(finance.preparer)
    batch_id = prepare_through_the_page(client)
    with app.app_context():  # approved, the job not run yet (as with a queue and no worker)
        batch = db.session.get(PayoutBatch, batch_id)
        batch.status, batch.approved_by_id = "approved", user(finance.approver).id
        db.session.commit()
    page = client.get(f"{PAGE}/{batch_id}").get_data(as_text=True)
    assert 'role="progressbar"' in page and "0 of 2 sent" in page
    assert f"/api/v1/payout-batches/{batch_id}/progress" in page and "setTimeout" in page
    progress = client.get(f"/api/v1/payout-batches/{batch_id}/progress").get_json()
    assert progress == {
        "batch_id": batch_id,
        "status": "approved",
        "line_count": 2,
        "done": 0,
        "waiting_for_finance": 0,
        "counts": {
            "reserved": 2, "sending": 0, "paid": 0, "failed": 0, "voided": 0, "reversed": 0,
            "released": 0,
        },
    }  # fmt: skip


def test_a_rejection_through_the_page_voids_the_reservations(
    app, client, auth, sandbox_app, finance, owed
):
    onboard(app, owed.lead, owed.partner)
    auth.login(finance.preparer)
    batch_id = prepare_through_the_page(client)
    blank = client.post(f"{PAGE}/{batch_id}/reject", data={"reason": " "}, follow_redirects=True)
    assert "Say why the batch is rejected" in blank.get_data(as_text=True)
    rejected = client.post(
        f"{PAGE}/{batch_id}/reject", data={"reason": "Wrong minimum"}, follow_redirects=True
    )
    text = rejected.get_data(as_text=True)
    assert f"Batch {batch_id} rejected" in text and "Wrong minimum" in text
    assert 'data-test="status">rejected' in text
    with app.app_context():
        lines = db.session.scalars(select(PayoutLine).where(PayoutLine.batch_id == batch_id))
        assert {line.status for line in lines} == {"voided"}
    listing = client.get(PAGE).get_data(as_text=True)
    assert "rejected by" in listing


@pytest.mark.parametrize(
    "minimum, message",
    [
        ("abc", "Type the minimum as an amount like 100.00 (at most 2 decimals)."),
        ("0", "The minimum must be more than zero"),
        ("1.234", "Type the minimum as an amount like 100.00 (at most 2 decimals)."),
        ("", "Type the minimum as an amount like 100.00"),
    ],
)
def test_a_bad_minimum_is_refused_with_a_clear_error(
    app, client, auth, sandbox_app, finance, owed, minimum, message
):
    onboard(app, owed.lead)
    auth.login(finance.preparer)
    response = client.post(PAGE, data={"currency": "USD", "minimum": minimum})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert 'data-test="minimum-error"' in response.get_data(as_text=True)
    preview = client.get(PAGE, query_string={"currency": "USD", "minimum": minimum})
    assert preview.status_code == 422 and message in preview.get_data(as_text=True)
    assert count_batches(app) == 0


def test_minimums_are_converted_in_the_currencys_own_exponent(
    app, client, auth, sandbox_app, finance, owed
):
    onboard(app, owed.lead, owed.partner)
    auth.login(finance.preparer)
    response = client.post(PAGE, data={"currency": "usd", "minimum": "5,000.01"})
    assert response.status_code == 302  # only the lead is owed that much
    with app.app_context():
        batch = db.session.scalar(select(PayoutBatch))
        assert (batch.minimum, batch.line_count, batch.total) == (500_001, 1, 600_000)
    japanese = client.post(PAGE, data={"currency": "JPY", "minimum": "1.5"})
    assert japanese.status_code == 422
    assert "like 100 (no decimals)" in japanese.get_data(as_text=True)
    nobody = client.post(
        PAGE, data={"currency": "USD", "minimum": "4,000.01"}, follow_redirects=True
    )
    assert "Nobody is owed at least 4,000.01 USD" in nobody.get_data(as_text=True)
    assert count_batches(app) == 1


@pytest.mark.parametrize("who", ["solver", "finance"])
def test_only_platform_finance_staff_see_the_payout_pages(
    app, client, auth, sandbox_app, people, finance, owed, who
):
    onboard(app, owed.lead)
    auth.login(finance.preparer)
    batch_id = prepare_through_the_page(client)
    auth.logout()
    auth.login(getattr(people, who))  # Acme's own finance member is not platform staff
    assert 'data-test="payouts-link"' not in client.get("/").get_data(as_text=True)
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}/{batch_id}").status_code == 403
    assert client.post(PAGE, data={"currency": "USD", "minimum": "1"}).status_code == 403
    assert client.post(f"{PAGE}/{batch_id}/approve").status_code == 403
    assert client.post(f"{PAGE}/{batch_id}/reject", data={"reason": "no"}).status_code == 403
    with app.app_context():
        assert db.session.get(PayoutBatch, batch_id).status == "prepared"


def test_signed_out_visitors_are_sent_to_sign_in(client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_only_a_post_opens_a_payout_account(app, client, auth, sandbox_app, owed):
    from marketplace.payouts.models import PayoutAccount

    auth.login(owed.lead)
    answer = client.get("/me/payout-account")  # a link or an image on another site
    assert answer.status_code == 302 and answer.location.endswith("/me/earnings")
    with app.app_context():
        assert db.session.scalar(select(func.count(PayoutAccount.id))) == 0
    answer = client.post("/me/payout-account")
    assert answer.status_code == 302
    with app.app_context():
        account = db.session.scalar(select(PayoutAccount))
        assert account.user_id == user(owed.lead).id and account.payouts_enabled
