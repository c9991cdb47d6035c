"""The payouts API: payout accounts, and batches with four eyes, as API answers show them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.accounts import second_factor
from marketplace.accounts.scopes import ALL_SCOPES
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.payouts.models import PayoutAccount, PayoutBatch, PayoutLine
from tests.challenges.conftest import user
from tests.challenges.test_api import bearer, token_for
from tests.factories import make_token
from tests.payouts.conftest import onboard
from tests.second_factors import enrol, fresh_code

API = "/api/v1"
BATCHES = f"{API}/payout-batches"


def code(app, email: str) -> dict[str, str]:
    """The approval's body: a fresh code of the approver's authenticator."""
    with app.app_context():
        return {"code": fresh_code(email)}


def count(app, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def test_batches_through_the_api_with_four_eyes(app, client, sandbox_app, finance, owed):
    onboard(app, owed.lead, owed.partner)
    preparer = bearer(token_for(app, finance.preparer))
    approver = bearer(token_for(app, finance.approver))
    assert client.post(BATCHES, json={"currency": "USD", "minimum": 100}).status_code == 401
    created = client.post(BATCHES, json={"currency": "USD", "minimum": 100}, headers=preparer)
    assert created.status_code == 201, created.json
    batch = created.json
    assert (batch["status"], batch["line_count"], batch["total"]) == ("prepared", 2, 1_000_000)
    assert batch["prepared_by"]["email"] == finance.preparer and batch["approved_by"] is None
    assert sorted(line["amount"] for line in batch["lines"]) == [400_000, 600_000]
    assert {line["status"] for line in batch["lines"]} == {"reserved"}
    assert {line["provider"] for line in batch["lines"]} == {"sandbox"}
    assert batch["progress"]["counts"]["reserved"] == 2 and batch["progress"]["done"] == 0
    item = f"{BATCHES}/{batch['id']}"

    listed = client.get(BATCHES, headers=approver)
    assert [b["id"] for b in listed.json] == [batch["id"]]
    assert "lines" not in listed.json[0]

    refused = client.post(f"{item}/approval", json=code(app, finance.preparer), headers=preparer)
    assert refused.status_code == 403 and "Four eyes" in refused.json["detail"]
    assert client.get(item, headers=preparer).json["status"] == "prepared"

    approved = client.post(f"{item}/approval", json=code(app, finance.approver), headers=approver)
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "completed"  # no Redis: the job ran inline
    assert approved.json["approved_by"]["email"] == finance.approver
    assert {line["status"] for line in approved.json["lines"]} == {"paid"}
    assert all(line["provider_transfer_id"] for line in approved.json["lines"])

    progress = client.get(f"{item}/progress", headers=preparer)
    assert progress.json == {
        "batch_id": batch["id"],
        "status": "completed",
        "line_count": 2,
        "done": 2,
        "waiting_for_finance": 0,
        "counts": {
            "reserved": 0, "sending": 0, "paid": 2, "failed": 0, "voided": 0, "reversed": 0,
            "released": 0,
        },
    }  # fmt: skip
    twice = client.post(f"{item}/approval", json=code(app, finance.approver), headers=approver)
    assert twice.status_code == 409 and twice.json["detail"] == (
        "A completed batch cannot be approved."
    )
    late = client.post(f"{item}/rejection", json={"reason": "late"}, headers=approver)
    assert late.status_code == 409

    nobody = client.post(BATCHES, json={"currency": "USD", "minimum": 1}, headers=preparer)
    assert nobody.status_code == 409 and "Nobody is owed" in nobody.json["detail"]


def test_a_rejection_through_the_api_voids_the_reservations(
    app, client, sandbox_app, finance, owed
):
    onboard(app, owed.lead, owed.partner)
    preparer = bearer(token_for(app, finance.preparer))
    batch = client.post(BATCHES, json={"currency": "USD", "minimum": 100}, headers=preparer).json
    item = f"{BATCHES}/{batch['id']}"
    blank = client.post(f"{item}/rejection", json={"reason": "   "}, headers=preparer)
    assert blank.status_code == 422 and set(blank.json["errors"]) == {"reason"}
    missing = client.post(f"{item}/rejection", json={}, headers=preparer)
    assert missing.status_code == 422 and set(missing.json["errors"]) == {"reason"}
    rejected = client.post(f"{item}/rejection", json={"reason": "Wrong minimum"}, headers=preparer)
    assert rejected.status_code == 200, rejected.json
    assert rejected.json["status"] == "rejected"
    assert rejected.json["rejected_by"]["email"] == finance.preparer
    assert rejected.json["rejection_reason"] == "Wrong minimum"
    assert {line["status"] for line in rejected.json["lines"]} == {"voided"}
    approver = bearer(token_for(app, finance.approver))
    again = client.post(f"{item}/approval", json=code(app, finance.approver), headers=approver)
    assert again.status_code == 409


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"currency": "USD", "minimum": "100"}, {"minimum"}),
        ({"currency": "USD", "minimum": 1.5}, {"minimum"}),
        ({"currency": "USD", "minimum": 0}, {"minimum"}),
        ({"currency": "USD", "minimum": 10**13}, {"minimum"}),
        ({"currency": "usd", "minimum": 100}, {"currency"}),
        ({"currency": "USD"}, {"minimum"}),
        ({}, {"currency", "minimum"}),
        ({"currency": "U\x00D", "minimum": 100}, {"currency"}),
    ],
)
def test_bad_batch_input_gets_field_errors_and_creates_nothing(
    app, client, sandbox_app, finance, owed, body, fields
):
    onboard(app, owed.lead)
    preparer = bearer(token_for(app, finance.preparer))
    response = client.post(BATCHES, json=body, headers=preparer)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == fields
    assert count(app, PayoutBatch) == 0 and count(app, PayoutLine) == 0


@pytest.mark.parametrize("who", ["solver", "finance"])
def test_only_platform_finance_staff_handle_batches(
    app, client, sandbox_app, people, finance, owed, who
):
    onboard(app, owed.lead)
    preparer = bearer(token_for(app, finance.preparer))
    batch = client.post(BATCHES, json={"currency": "USD", "minimum": 100}, headers=preparer).json
    item = f"{BATCHES}/{batch['id']}"
    intruder = bearer(token_for(app, getattr(people, who)))  # Acme's finance: not platform staff
    for method, path, body in (
        ("get", BATCHES, None),
        ("post", BATCHES, {"currency": "USD", "minimum": 100}),
        ("get", item, None),
        ("get", f"{item}/progress", None),
        ("post", f"{item}/approval", {"code": "000000"}),
        ("post", f"{item}/rejection", {"reason": "no"}),
    ):
        response = getattr(client, method)(path, json=body, headers=intruder)
        assert response.status_code == 403, (method, path, response.json)
        anonymous = getattr(client, method)(path, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.json)
    assert client.get(item, headers=preparer).json["status"] == "prepared"


def test_a_token_without_the_payouts_write_scope_cannot_approve(
    app, client, sandbox_app, finance, owed
) -> None:
    """The approver is allowed to approve, but this token of theirs may only read payouts (and
    everything else): refused before anything happens, the missing scope named."""
    onboard(app, owed.lead)
    preparer = bearer(token_for(app, finance.preparer))
    batch = client.post(BATCHES, json={"currency": "USD", "minimum": 100}, headers=preparer).json
    item = f"{BATCHES}/{batch['id']}"
    with app.app_context():
        all_but_one = [s for s in ALL_SCOPES if s != "payouts:write"]
        secret = make_token(user(finance.approver), scopes=all_but_one)[1]
    reader = {"Authorization": f"Bearer {secret}"}
    assert client.get(item, headers=reader).json["status"] == "prepared"
    for path, body in ((f"{item}/approval", None), (f"{item}/rejection", {"reason": "no"})):
        refused = client.post(path, json=body, headers=reader)
        assert refused.status_code == 403, refused.json
        assert "payouts:write" in refused.json["detail"]
    assert client.get(item, headers=preparer).json["status"] == "prepared"
    approver = bearer(token_for(app, finance.approver))
    approved = client.post(f"{item}/approval", json=code(app, finance.approver), headers=approver)
    assert approved.status_code == 200, approved.json


def test_unknown_batches_are_not_found(app, client, finance) -> None:
    approver = bearer(token_for(app, finance.approver))
    assert client.get(f"{BATCHES}/999999", headers=approver).status_code == 404
    unknown = client.post(f"{BATCHES}/999999/approval", json={"code": "0"}, headers=approver)
    assert unknown.status_code == 404
    assert client.get(f"{BATCHES}/{2**64}", headers=approver).status_code == 404


def test_opening_a_payout_account_through_the_api_needs_a_second_factor(
    app, client, sandbox_app, people
) -> None:
    """Where a solver's money goes is a money scope: a token without a second factor cannot
    hold payouts:write, and one whose owner turns the second factor off loses it."""
    reader = bearer(token_for(app, people.solver))  # no second factor: no money scope
    refused = client.post(f"{API}/me/payout-account", headers=reader)
    assert refused.status_code == 403 and "payouts:write" in refused.json["detail"]
    with app.app_context():
        with pytest.raises(Invalid) as error:
            make_token(user(people.solver), scopes=["payouts:write"])
        assert "second factor" in error.value.errors["scopes"][0]
        enrol(people.solver)
        secret = make_token(user(people.solver), scopes=["payouts:read", "payouts:write"])[1]
        second_factor.disable(user(people.solver), fresh_code(people.solver))
    lapsed = client.post(f"{API}/me/payout-account", headers=bearer(secret))
    assert lapsed.status_code == 403 and "second factor" in lapsed.json["detail"]
    assert client.get(f"{API}/me/payout-account", headers=bearer(secret)).status_code == 200
    assert count(app, PayoutAccount) == 0


def test_the_payout_account_in_the_sandbox(app, client, sandbox_app, people) -> None:
    with app.app_context():
        enrol(people.solver)
    solver = bearer(token_for(app, people.solver))
    assert client.get(f"{API}/me/payout-account").status_code == 401
    assert client.post(f"{API}/me/payout-account").status_code == 401
    assert client.get(f"{API}/me/payout-account", headers=solver).json == {"account": None}
    opened = client.post(f"{API}/me/payout-account", headers=solver)
    assert opened.status_code == 200, opened.json
    assert opened.json["onboarding_url"] is None  # the sandbox onboards at once
    account = opened.json["account"]
    assert account["provider"] == "sandbox" and account["sandbox"] is True
    assert account["payouts_enabled"] is True and account["details_submitted"] is True
    again = client.post(f"{API}/me/payout-account", headers=solver)
    assert again.json["account"]["external_id"] == account["external_id"]
    assert client.get(f"{API}/me/payout-account", headers=solver).json["account"] == account
    assert count(app, PayoutAccount) == 1
    with app.app_context():
        assert db.session.scalar(select(PayoutAccount)).user_id == user(people.solver).id
