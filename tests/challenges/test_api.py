"""The JSON API: token authentication, and the rules of needs as API answers show them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ledger import utcnow
from marketplace.accounts.models import ApiToken, Organization, OrganizationDomain
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from tests.challenges.conftest import create, fund_and_open, user
from tests.conftest import PASSWORD
from tests.factories import UserFactory, make_token

API = "/api/v1"


def token_for(app: Flask, email: str, name: str = "test") -> str:
    with app.app_context():
        return make_token(user(email), name)[1]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def new_token_json(name: str) -> dict:
    """A POST /me/tokens body: a read scope, expiring in a month."""
    expires_at = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    return {"name": name, "scopes": ["needs:read"], "expires_at": expires_at.isoformat()}


def token_form(name: str) -> dict:
    """The account page's token form: a read scope, expiring in a month."""
    expires_on = (utcnow() + timedelta(days=30)).date().isoformat()
    return {"name": name, "scopes": "needs:read", "expires_on": expires_on}


@pytest.fixture
def keys(app: Flask, people: SimpleNamespace) -> SimpleNamespace:
    """A bearer header for everyone in ``people``."""
    return SimpleNamespace(
        **{role: bearer(token_for(app, email)) for role, email in vars(people).items()}
    )


def terms_json(**changes: object) -> dict:
    deadline = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    return {
        "currency": "USD",
        "prizes": [1_000_000, 500_000],
        "value_share_bp": 500,
        "value_share_months": 24,
        "platform_fee_bp": 1_000,
        "ip_terms": "non_exclusive_licence",
        "excluded_countries": ["KP"],
        "criteria": [{"name": "Feasibility", "weight": 60}, {"name": "Impact", "weight": 40}],
        "max_team_size": 4,
        "deadline": deadline.isoformat(),
        "confidentiality": "Details under NDA.",
        **changes,
    }


def need_json(**changes: object) -> dict:
    return {
        "organization": "acme",
        "title": "Biodegradable coffee capsule liner",
        "summary": "A liner that keeps coffee fresh for 12 months and composts at home.",
        "looking_for": ["Oxygen barrier under 0.5 cc/m²/day"],
        "maturity": "prototype",
        "category": "Packaging",
        "tags": ["compostable", "Barrier"],
        "confidential_details": "Target cost: 0.4 cents per capsule.",
        "terms": terms_json(),
        **changes,
    }


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- Tokens -------------------------------------------------------------------------------


def test_a_bearer_token_authenticates_and_notes_its_use(app, client, people) -> None:
    secret = token_for(app, people.solver)
    assert secret.startswith("cct_") and len(secret) > 40
    response = client.get(f"{API}/me", headers=bearer(secret))
    assert response.status_code == 200
    assert response.json["email"] == people.solver
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.token_sha256 == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in (token.prefix, token.token_sha256) and secret.startswith(token.prefix)
        first_use = token.last_used_at
        assert first_use is not None
    client.get(f"{API}/me", headers=bearer(secret))
    with app.app_context():  # at most one write a minute
        assert db.session.scalar(select(ApiToken.last_used_at)) == first_use
    # Tokens are for the API: a page still asks to sign in.
    response = client.get("/account", headers=bearer(secret))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cct_not-a-token",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "cct_without_a_scheme",
    ],
)
def test_a_bad_authorization_header_is_refused_even_with_a_session(
    app, client, auth, people, header
) -> None:
    auth.login(people.solver)
    assert client.get(f"{API}/me").status_code == 200
    response = client.get(f"{API}/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["title"] == "Unauthorized"
    # A page ignores the header: it goes by the session.
    assert client.get("/account", headers={"Authorization": header}).status_code == 200


def test_a_revoked_token_is_refused(app, client, people) -> None:
    headers = bearer(token_for(app, people.solver))
    mine = client.get(f"{API}/me/tokens", headers=headers).json
    assert [t["name"] for t in mine] == ["test"] and "token" not in mine[0]
    assert client.delete(f"{API}/me/tokens/{mine[0]['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/me", headers=headers).status_code == 401
    with app.app_context():
        assert db.session.scalar(select(ApiToken.revoked_at)) is not None


def test_a_deactivated_users_token_is_refused(app, client, people) -> None:
    headers = bearer(token_for(app, people.solver))
    with app.app_context():
        user(people.solver).active = False
        db.session.commit()
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_another_users_token_cannot_be_revoked(app, client, auth, people) -> None:
    theirs = bearer(token_for(app, people.other_solver))
    their_id = client.get(f"{API}/me/tokens", headers=theirs).json[0]["id"]
    mine = bearer(token_for(app, people.solver))
    assert client.delete(f"{API}/me/tokens/{their_id}", headers=mine).status_code == 404
    assert client.delete(f"{API}/me/tokens/{2**63 - 1}", headers=mine).status_code == 404
    assert client.get(f"{API}/me", headers=theirs).status_code == 200
    auth.login(people.solver)  # nor through the page
    assert client.post(f"/account/tokens/{their_id}/revoke").status_code == 404
    assert client.get(f"{API}/me", headers=theirs).status_code == 200


def test_a_token_makes_more_tokens_and_the_secret_is_shown_once(app, client, people) -> None:
    headers = bearer(token_for(app, people.solver))
    response = client.post(
        f"{API}/me/tokens", json={**new_token_json("CI"), "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 201
    secret = response.json["token"]
    assert secret.startswith(response.json["prefix"])
    assert client.get(f"{API}/me", headers=bearer(secret)).status_code == 200
    listed = client.get(f"{API}/me/tokens", headers=headers).get_data(as_text=True)
    assert secret not in listed
    for name in ("", "   ", "x" * 81, "tab\there"):
        response = client.post(
            f"{API}/me/tokens", json={**new_token_json(name), "password": PASSWORD}, headers=headers
        )
        assert response.status_code == 422
        assert "name" in response.json["errors"]


def test_a_session_cookie_alone_does_not_authenticate_api_writes(app, client, auth, people) -> None:
    auth.login(people.manager)
    assert client.get(f"{API}/me").status_code == 200  # reads may use the session
    before = count(app, Challenge)
    for method, path, body in [
        ("post", f"{API}/challenges", need_json()),
        ("post", f"{API}/me/tokens", {"name": "sneaky"}),
        ("post", f"{API}/notifications/read", None),
        ("delete", f"{API}/me/tokens/1", None),
    ]:
        response = getattr(client, method)(path, json=body)
        assert response.status_code == 401, (path, response.json)
        assert "Bearer" in response.json["detail"]
    assert count(app, Challenge) == before
    assert count(app, ApiToken) == 0
    # The same session with a token: the token decides.
    headers = bearer(token_for(app, people.manager))
    assert client.post(f"{API}/challenges", json=need_json(), headers=headers).status_code == 201


@pytest.fixture
def csrf_on(app: Flask) -> Iterator[None]:
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_the_api_needs_no_csrf_token_but_pages_do(app, client, people, csrf_on) -> None:
    headers = bearer(token_for(app, people.manager))
    assert client.post(f"{API}/challenges", json=need_json(), headers=headers).status_code == 201
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    login = {"email": people.solver, "password": "correct horse battery", "csrf_token": csrf}
    assert client.post("/login", data=login).status_code == 302
    assert client.post("/account/tokens", data=token_form("no csrf")).status_code == 400
    assert count(app, ApiToken) == 1
    page = client.get("/account").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/account/tokens", data={**token_form("laptop"), "csrf_token": csrf})
    assert response.status_code == 200
    assert count(app, ApiToken) == 2


def test_the_account_page_creates_shows_once_and_revokes_tokens(app, client, auth, people) -> None:
    auth.login(people.solver)
    assert "You have no API tokens" in client.get("/account").get_data(as_text=True)
    response = client.post("/account/tokens", data=token_form("reporting script"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = re.search(r'data-test="new-token-secret">(cct_[^<]+)<', page).group(1)
    assert client.get(f"{API}/me", headers=bearer(secret)).json["email"] == people.solver
    page = client.get("/account").get_data(as_text=True)
    assert "reporting script" in page and secret not in page and secret[:12] in page
    assert client.post("/account/tokens", data=token_form("")).status_code == 422
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert client.get(f"{API}/me", headers=bearer(secret)).status_code == 401
    assert "Revoked" in client.get("/account").get_data(as_text=True)


# --- Needs through the API ----------------------------------------------------------------


def test_create_fund_open_amend_accept(app, client, people, keys) -> None:
    response = client.post(f"{API}/challenges", json=need_json(), headers=keys.manager)
    assert response.status_code == 201, response.json
    need = response.json
    cid = need["id"]
    assert need["status"] == "draft" and need["visibility"] == "public"
    assert need["tags"] == ["barrier", "compostable"]
    assert need["terms"]["version"] == 1 and need["terms_version"] == 1
    canonical = json.dumps(need["terms"]["content"], sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == need["terms"]["sha256"]
    assert need["prize_total"] == 1_500_000 and need["escrow_required"] == 1_650_000
    assert need["confidential_details"] == "Target cost: 0.4 cents per capsule."  # staff

    # Money promised is money held.
    response = client.post(f"{API}/challenges/{cid}/open", headers=keys.manager)
    assert response.status_code == 409
    assert "Fund the prize pool first" in response.json["detail"]
    response = client.post(f"{API}/challenges/{cid}/fundings", json={}, headers=keys.manager)
    assert response.status_code == 201, response.json
    assert response.json["amount"] == 1_650_000 and response.json["status"] == "settled"
    assert response.json["provider"] == "sandbox" and response.json["currency"] == "USD"
    response = client.post(f"{API}/challenges/{cid}/open", headers=keys.manager)
    assert response.status_code == 200 and response.json["status"] == "open"
    response = client.patch(f"{API}/challenges/{cid}", json={"title": "New"}, headers=keys.manager)
    assert response.status_code == 409

    # After opening, an amendment may only favour solvers; each worsened field is named.
    worse = terms_json(
        prizes=[900_000, 500_000],
        deadline=(utcnow() + timedelta(days=3)).isoformat(),
        ip_terms="assignment_on_payment",
    )
    response = client.post(f"{API}/challenges/{cid}/terms", json=worse, headers=keys.manager)
    assert response.status_code == 422
    assert {"prizes", "prize_total", "deadline", "ip_terms"} <= set(response.json["errors"])
    assert client.get(f"{API}/challenges/{cid}/terms").json[-1]["version"] == 1

    later = (utcnow() + timedelta(days=60)).replace(microsecond=0).isoformat()
    better = {**terms_json(deadline=later, notes=["Samples may be sent by post."])}
    better["change_note"] = "More time, and a clarification."
    response = client.post(f"{API}/challenges/{cid}/terms", json=better, headers=keys.manager)
    assert response.status_code == 201, response.json
    assert response.json["version"]["version"] == 2
    assert {c["field"] for c in response.json["changes"]} == {"deadline", "notes"}
    versions = client.get(f"{API}/challenges/{cid}/terms").json
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["change_note"] == "More time, and a clarification."
    second = client.get(f"{API}/challenges/{cid}/terms/2").json
    assert second["previous_version"] == 1
    notes = next(c for c in second["changes"] if c["field"] == "notes")
    assert notes == {"field": "notes", "before": [], "after": ["Samples may be sent by post."]}
    first = client.get(f"{API}/challenges/{cid}/terms/1").json
    assert first["previous_version"] is None and first["changes"] == []
    assert client.get(f"{API}/challenges/{cid}/terms/3").status_code == 404

    # A solver sees the confidential details only after accepting the terms.
    before = client.get(f"{API}/challenges/{cid}", headers=keys.solver).json
    assert before["confidential_details"] is None and before["accepted_version"] is None
    assert client.get(f"{API}/challenges/{cid}").json["confidential_details"] is None
    response = client.post(f"{API}/challenges/{cid}/acceptances", headers=keys.solver)
    assert response.status_code == 201
    assert response.json["version"] == 2 and response.json["sha256"] == versions[1]["sha256"]
    after = client.get(f"{API}/challenges/{cid}", headers=keys.solver).json
    assert after["confidential_details"] == "Target cost: 0.4 cents per capsule."
    assert after["accepted_version"] == 2
    other = client.get(f"{API}/challenges/{cid}", headers=keys.other_solver).json
    assert other["confidential_details"] is None
    # Staff may not take part.
    response = client.post(f"{API}/challenges/{cid}/acceptances", headers=keys.reviewer)
    assert response.status_code == 409

    listed = client.get(f"{API}/challenges", query_string={"q": "capsule"}).json
    assert listed["total"] == 1 and listed["items"][0]["id"] == cid
    assert listed["pages"] == 1 and listed["per_page"] == 20


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"title": "", "looking_for": []}, {"title", "looking_for"}),
        ({"maturity": "vapourware", "visibility": "secret"}, {"maturity", "visibility"}),
        ({"terms": terms_json(criteria=[{"name": "A", "weight": 50}])}, {"terms"}),
        ({"terms": terms_json(prizes=[10.5])}, {"terms"}),
        ({"terms": terms_json(prizes=["1000"])}, {"terms"}),
        ({"terms": terms_json(prizes=[0])}, {"terms"}),
        ({"terms": terms_json(deadline="2030-01-01T00:00:00")}, {"terms"}),  # naive
        ({"terms": terms_json(deadline=(utcnow() - timedelta(days=1)).isoformat())}, {"deadline"}),
        ({"organization": "nobody"}, {"organization"}),
        ({"title": "nul\x00byte"}, {"title"}),
        ({"tags": [f"tag{n:02d}-" + "x" * 34 for n in range(20)]}, {"tags"}),
        ({"surprise": 1}, {"surprise"}),
    ],
)
def test_bad_input_gets_field_errors_and_changes_nothing(
    app, client, people, keys, changes, fields
) -> None:
    response = client.post(f"{API}/challenges", json=need_json(**changes), headers=keys.manager)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == fields
    assert count(app, Challenge) == 0


def test_only_editors_of_the_organization_create_needs(app, client, people, keys) -> None:
    for who in (keys.reviewer, keys.finance, keys.solver, keys.rival):
        response = client.post(f"{API}/challenges", json=need_json(), headers=who)
        assert response.status_code == 403
    response = client.post(f"{API}/challenges", json=need_json())
    assert response.status_code == 401 and "Bearer" in response.json["detail"]
    assert count(app, Challenge) == 0


def test_money_fields_are_strict_integers(app, client, people, keys, draft) -> None:
    for amount in ("100", 1.5, 0, -5, 10**13, True):
        response = client.post(
            f"{API}/challenges/{draft}/fundings", json={"amount": amount}, headers=keys.manager
        )
        assert response.status_code == 422, amount
        assert "amount" in response.json["errors"]
    response = client.post(
        f"{API}/challenges/{draft}/fundings", json={"amount": 100}, headers=keys.finance
    )
    assert response.status_code == 201 and response.json["amount"] == 100
    response = client.post(
        f"{API}/challenges/{draft}/fundings", json={"amount": 100}, headers=keys.reviewer
    )
    assert response.status_code == 403


def test_a_draft_is_edited_by_its_editors(app, client, people, keys, draft) -> None:
    url = f"{API}/challenges/{draft}"
    response = client.patch(url, json={"title": "Better liner"}, headers=keys.manager)
    assert response.status_code == 200
    assert response.json["title"] == "Better liner"
    assert response.json["summary"].startswith("We need a liner")  # untouched
    assert client.patch(url, json={"title": ""}, headers=keys.manager).status_code == 422
    assert client.patch(url, json={"title": "x"}, headers=keys.reviewer).status_code == 403
    assert client.patch(url, json={"title": "x"}, headers=keys.solver).status_code == 404
    assert client.post(f"{url}/cancel", headers=keys.reviewer).status_code == 403
    response = client.post(f"{url}/cancel", headers=keys.owner)
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert client.post(f"{url}/cancel", headers=keys.owner).status_code == 409


# --- Visibility: a need someone may not see is a 404, for every endpoint ------------------

READS = ["", "/terms", "/terms/1", "/clarifications", "/updates"]
WRITES = ["/acceptances", "/clarifications", "/open", "/cancel", "/fundings", "/invitations"]


def assert_hidden(client: FlaskClient, headers: dict | None, cid: int) -> None:
    for suffix in READS:
        response = client.get(f"{API}/challenges/{cid}{suffix}", headers=headers)
        assert response.status_code == 404, suffix
        assert response.json["title"] == "Not found"
    listed = client.get(f"{API}/challenges", query_string={"status": "any"}, headers=headers)
    assert cid not in [item["id"] for item in listed.json["items"]]
    if headers is None:
        return
    bodies = {"/clarifications": {"question": "Q?"}, "/invitations": {"email": "a@b.example"}}
    for suffix in WRITES:
        response = client.post(
            f"{API}/challenges/{cid}{suffix}", json=bodies.get(suffix, {}), headers=headers
        )
        assert response.status_code == 404, suffix
    response = client.patch(f"{API}/challenges/{cid}", json={"title": "x"}, headers=headers)
    assert response.status_code == 404


def assert_seen(client: FlaskClient, headers: dict, cid: int) -> None:
    for suffix in READS:
        assert client.get(f"{API}/challenges/{cid}{suffix}", headers=headers).status_code == 200
    listed = client.get(f"{API}/challenges", query_string={"status": "any"}, headers=headers)
    assert cid in [item["id"] for item in listed.json["items"]]


def test_a_draft_is_hidden_from_outsiders(app, client, people, keys, draft) -> None:
    for headers in (keys.solver, keys.rival, None):
        assert_hidden(client, headers, draft)
    for headers in (keys.owner, keys.reviewer, keys.finance):
        assert_seen(client, headers, draft)


def test_an_internal_need_is_hidden_from_non_members(app, client, people, keys) -> None:
    cid = create(app, people, visibility="internal")
    fund_and_open(app, people, cid)
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        db.session.add(OrganizationDomain(organization_id=acme.id, domain="acme-labs.example"))
        UserFactory(email="staffer@acme-labs.example", email_verified_at=utcnow())
        UserFactory(email="unverified@acme-labs.example")
    for headers in (
        keys.solver,
        keys.rival,
        bearer(token_for(app, "unverified@acme-labs.example")),
        None,
    ):
        assert_hidden(client, headers, cid)
    assert_seen(client, keys.reviewer, cid)
    assert_seen(client, bearer(token_for(app, "staffer@acme-labs.example")), cid)


def test_an_invite_only_need_is_hidden_from_non_guests(app, client, people, keys) -> None:
    cid = create(app, people, visibility="invite_only")
    fund_and_open(app, people, cid)
    for headers in (keys.solver, keys.other_solver, None):
        assert_hidden(client, headers, cid)

    response = client.post(
        f"{API}/challenges/{cid}/invitations",
        json={"email": people.solver, "name": "Solver Ltd"},
        headers=keys.manager,
    )
    assert response.status_code == 201, response.json
    token = response.json["token"]
    assert response.json["link"].endswith(f"/invitations/{token}")
    response = client.post(
        f"{API}/invitations/redeem", json={"token": token}, headers=keys.other_solver
    )
    assert response.status_code == 422  # the invitation names someone else
    response = client.post(f"{API}/invitations/redeem", json={"token": token}, headers=keys.solver)
    assert response.status_code == 200 and response.json["id"] == cid
    assert_seen(client, keys.solver, cid)
    assert_hidden(client, keys.other_solver, cid)
    response = client.post(
        f"{API}/invitations/redeem", json={"token": "guess"}, headers=keys.other_solver
    )
    assert response.status_code == 422


def test_invitations_are_refused_for_other_needs_and_bad_emails(
    app, client, people, keys, opened
) -> None:
    url = f"{API}/challenges/{opened}/invitations"
    assert client.post(url, json={"email": "a@b.example"}, headers=keys.manager).status_code == 409
    response = client.post(url, json={"email": "not an email"}, headers=keys.manager)
    assert response.status_code == 422 and "email" in response.json["errors"]
    response = client.post(url, json={"email": "a@b.example"}, headers=keys.solver)
    assert response.status_code == 403


def test_ids_beyond_64_bits_are_not_found(app, client, people, keys) -> None:
    for path in (f"/challenges/{2**64}", f"/challenges/{2**63 - 1}", f"/challenges/{2**63}/terms"):
        assert client.get(API + path, headers=keys.solver).status_code == 404


# --- Dialogue and notifications -----------------------------------------------------------


def test_questions_answers_updates_and_notifications(app, client, people, keys, opened) -> None:
    base = f"{API}/challenges/{opened}"
    assert client.post(f"{base}/acceptances", headers=keys.solver).status_code == 201
    response = client.post(
        f"{base}/clarifications", json={"question": "Is PLA allowed?"}, headers=keys.solver
    )
    assert response.status_code == 201
    question = response.json
    assert question["answer"] is None
    assert client.get(f"{base}/clarifications").json == []  # unanswered: asker and staff only
    assert len(client.get(f"{base}/clarifications", headers=keys.solver).json) == 1
    response = client.post(f"{base}/clarifications", json={"question": "   "}, headers=keys.solver)
    assert response.status_code == 422
    response = client.post(
        f"{base}/clarifications", json={"question": "Mine?"}, headers=keys.manager
    )
    assert response.status_code == 409  # staff answer, they do not ask

    url = f"{API}/clarifications/{question['id']}/answer"
    assert client.post(url, json={"answer": "Yes."}, headers=keys.solver).status_code == 403
    response = client.post(url, json={"answer": "Yes."}, headers=keys.manager)
    assert response.status_code == 200 and response.json["answer"] == "Yes."
    assert client.post(url, json={"answer": "Again"}, headers=keys.manager).status_code == 409
    assert client.get(f"{base}/clarifications").json[0]["answer"] == "Yes."
    response = client.post(
        f"{API}/clarifications/{2**62}/answer", json={"answer": "x"}, headers=keys.manager
    )
    assert response.status_code == 404

    update = {"title": "Shortlist next week", "body": "Thanks for the proposals so far."}
    assert client.post(f"{base}/updates", json=update, headers=keys.solver).status_code == 403
    assert client.post(f"{base}/updates", json=update, headers=keys.manager).status_code == 201
    assert client.get(f"{base}/updates").json[0]["title"] == "Shortlist next week"

    inbox = client.get(f"{API}/notifications", headers=keys.solver).json["items"]
    assert {n["kind"] for n in inbox} == {"clarification", "update"}
    assert all(n["read_at"] is None for n in inbox)
    assert client.post(f"{API}/notifications/read", headers=keys.solver).status_code == 204
    inbox = client.get(f"{API}/notifications", headers=keys.solver).json["items"]
    assert all(n["read_at"] is not None for n in inbox)
    assert client.get(f"{API}/notifications").status_code == 401
