"""Approving a payout batch asks for a fresh second-factor code every time, even inside a
session: without one, with a wrong one or with one used already it is refused (and nothing
is sent); finance staff without a second factor cannot approve at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.second_factor import SecondFactorRequired
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.payouts import batches
from marketplace.payouts.models import PayoutBatch
from tests.challenges.conftest import user
from tests.challenges.test_api import bearer, token_for
from tests.factories import UserFactory
from tests.payouts.conftest import onboard
from tests.second_factors import fresh_code, used_code

PAGE = "/finance/payouts"
API = "/api/v1/payout-batches"


@pytest.fixture
def prepared(app, sandbox_app, finance, owed) -> int:
    onboard(app, owed.lead, owed.partner)
    with app.app_context():
        return batches.prepare_batch(user(finance.preparer), "USD", 100).id


def status(app, batch_id: int) -> str:
    with app.app_context():
        return db.session.get(PayoutBatch, batch_id).status


def test_the_service_wants_a_fresh_code(app, finance, prepared) -> None:
    with app.app_context():
        approver = user(finance.approver)
        for code in (None, "", "000000", "abc"):
            with pytest.raises(Invalid) as refused:
                batches.approve_batch(approver, prepared, code)
            assert "code" in refused.value.errors
        assert db.session.get(PayoutBatch, prepared).status == "prepared"
        code = fresh_code(approver)
        batches.approve_batch(approver, prepared, code)
        assert db.session.get(PayoutBatch, prepared).status == "completed"


def test_the_page_asks_for_a_code_even_inside_a_fresh_session(
    app, client, auth, finance, prepared
) -> None:
    auth.login(finance.approver)  # signed in with a code a moment ago
    page = client.get(f"{PAGE}/{prepared}").get_data(as_text=True)
    assert 'data-test="approve-code"' in page
    without = client.post(f"{PAGE}/{prepared}/approve", follow_redirects=True)
    assert "Type the code your authenticator app shows now." in without.get_data(as_text=True)
    with app.app_context():
        replayed = used_code(finance.approver)  # the one that opened the session
    again = client.post(
        f"{PAGE}/{prepared}/approve", data={"code": replayed}, follow_redirects=True
    )
    assert "used already" in again.get_data(as_text=True)
    assert status(app, prepared) == "prepared"
    with app.app_context():
        code = fresh_code(finance.approver)
    approved = client.post(f"{PAGE}/{prepared}/approve", data={"code": code}, follow_redirects=True)
    assert "approved and sent" in approved.get_data(as_text=True)
    assert status(app, prepared) == "completed"


def test_the_api_takes_the_code_in_the_body(app, client, finance, prepared) -> None:
    approver = bearer(token_for(app, finance.approver))
    url = f"{API}/{prepared}/approval"
    missing = client.post(url, json={}, headers=approver)
    assert missing.status_code == 422 and set(missing.json["errors"]) == {"code"}
    wrong = client.post(url, json={"code": "000000"}, headers=approver)
    assert wrong.status_code == 422 and set(wrong.json["errors"]) == {"code"}
    assert status(app, prepared) == "prepared"
    with app.app_context():
        code = fresh_code(finance.approver)
    assert client.post(url, json={"code": code}, headers=approver).status_code == 200
    assert status(app, prepared) == "completed"


def test_finance_staff_without_a_second_factor_cannot_approve(
    app, client, auth, finance, prepared
) -> None:
    with app.app_context():
        staff = UserFactory(email="nofactor@platform.example", is_platform_finance=True)
        with pytest.raises(SecondFactorRequired):
            batches.approve_batch(staff, prepared, "123456")
    auth.login("nofactor@platform.example")
    page = client.post(f"{PAGE}/{prepared}/approve", data={"code": "123456"})
    assert page.status_code == 302
    assert client.get(f"{PAGE}/{prepared}").location.startswith("/account/second-factor")
    # through the API: without a second factor, no token may hold payouts:write
    token = bearer(token_for(app, "nofactor@platform.example"))
    refused = client.post(f"{API}/{prepared}/approval", json={"code": "123456"}, headers=token)
    assert refused.status_code == 403 and "payouts:write" in refused.json["detail"]
    assert status(app, prepared) == "prepared"
    with app.app_context():
        assert db.session.scalar(select(PayoutBatch.approved_by_id)) is None
