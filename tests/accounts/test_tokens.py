"""API tokens: an expiry required and at most a year ahead, an expired token refused, scopes
chosen at creation (never more than the token asking has), the last use (time and address)
written at most once a minute per token in a short transaction of its own and shown, and an API
read with a recently used token writes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ledger import utcnow
from marketplace.accounts import tokens
from marketplace.accounts.models import ApiToken
from marketplace.audit.models import AuditEvent
from marketplace.db import transaction
from marketplace.errors import Invalid, NotFound
from marketplace.extensions import db
from tests.conftest import PASSWORD
from tests.factories import UserFactory, bearer, make_token
from tests.sql_writes import writes_during


@pytest.fixture
def token(app) -> tuple[int, str]:
    """A fresh token of a new user: its id and secret."""
    with app.app_context():
        created, secret = make_token(UserFactory(), "laptop")
        return created.id, secret


def last_used(app, token_id: int):
    with app.app_context():
        return db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


def set_last_used(app, token_id: int, value) -> None:
    with app.app_context(), transaction():
        db.session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=value)
        )


def test_last_use_is_written_at_most_once_a_minute(app, token) -> None:
    token_id, _secret = token
    start = utcnow()
    with app.app_context():
        assert tokens.note_use(token_id, None, now=start)
        assert not tokens.note_use(token_id, start, now=start + timedelta(seconds=59))
    assert last_used(app, token_id) == start
    with app.app_context():
        assert tokens.note_use(token_id, start, now=start + timedelta(seconds=61))
    assert last_used(app, token_id) == start + timedelta(seconds=61)


def test_a_stale_read_does_not_write_over_a_recent_use(app, token) -> None:
    """Another request (another process) noted the use after this one read the row."""
    token_id, _secret = token
    recent = utcnow() - timedelta(seconds=10)
    set_last_used(app, token_id, recent)
    with app.app_context():
        assert not tokens.note_use(token_id, recent - timedelta(minutes=5))
    assert last_used(app, token_id) == recent


def test_api_reads_with_a_recently_used_token_write_nothing(app, client, token) -> None:
    token_id, secret = token
    headers = {"Authorization": f"Bearer {secret}"}
    with writes_during(app) as first:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(first) == 1 and "api_tokens" in first[0]  # the first use is noted
    with writes_during(app) as later:
        for _ in range(3):
            assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert later == []
    set_last_used(app, token_id, utcnow() - timedelta(minutes=2))
    with writes_during(app) as after_a_while:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(after_a_while) == 1


def test_a_revoked_token_no_longer_authenticates_and_others_cannot_revoke_it(
    app, client, token
) -> None:
    token_id, secret = token
    headers = {"Authorization": f"Bearer {secret}"}
    with app.app_context():
        stranger = UserFactory()
        with pytest.raises(NotFound):
            tokens.revoke_token(stranger, token_id)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with app.app_context():
        owner = db.session.get(ApiToken, token_id).user
        assert tokens.revoke_token(owner, token_id).revoked_at is not None
    assert client.get("/api/v1/me", headers=headers).status_code == 401


# --- Expiry -------------------------------------------------------------------------------

API = "/api/v1"


def token_json(**changes: object) -> dict:
    expires_at = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    return {"name": "CI", "scopes": ["needs:read"], "expires_at": expires_at.isoformat(), **changes}


def test_the_expiry_is_required_in_the_future_and_at_most_a_year_ahead(app) -> None:
    now = utcnow()
    cases = {
        None: "Choose when the token expires",
        now - timedelta(seconds=1): "must be in the future",
        tokens.latest_expiry(now) + timedelta(minutes=1): "at most one year",
    }
    with app.app_context():
        owner = UserFactory()
        for expires_at, message in cases.items():
            with pytest.raises(Invalid) as refused:
                tokens.create_token(owner, "x", ["needs:read"], expires_at)
            assert set(refused.value.errors) == {"expires_at"}
            assert message in refused.value.errors["expires_at"][0]
        almost_a_year = tokens.latest_expiry(utcnow()) - timedelta(minutes=1)
        made, _secret = tokens.create_token(owner, "x", ["needs:read"], almost_a_year)
        assert made.expires_at == almost_a_year
        assert db.session.scalar(select(func.count(ApiToken.id))) == 1


def test_the_api_gives_a_field_error_for_each_bad_expiry(app, client) -> None:
    with app.app_context():
        headers = bearer(UserFactory())
    year = tokens.latest_expiry(utcnow())
    for expires_at, message in [
        (None, "Choose when the token expires"),
        ("2020-01-01T00:00:00+00:00", "must be in the future"),
        ((year + timedelta(days=2)).isoformat(), "at most one year"),
        ("2027-01-01T00:00:00", "aware"),  # no time zone: which moment would it be?
    ]:
        body = token_json(expires_at=expires_at)
        if expires_at is None:
            del body["expires_at"]
        response = client.post(f"{API}/me/tokens", json=body, headers=headers)
        assert response.status_code == 422, response.json
        assert message in " ".join(response.json["errors"]["expires_at"]), response.json
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 1  # the one asking


def test_the_account_page_asks_for_an_expiry_within_a_year(app, client, auth) -> None:
    with app.app_context():
        email = UserFactory().email
    auth.login(email)
    form = {"name": "script", "scopes": "needs:read"}
    too_far = (utcnow() + timedelta(days=400)).date().isoformat()
    for expires_on, message in [
        ("", "Choose when the token expires"),
        ("2020-01-01", "must be in the future"),
        (too_far, "at most one year"),
        ("next week", "YYYY-MM-DD"),
    ]:
        response = client.post("/account/tokens", data={**form, "expires_on": expires_on})
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        error = re.search(r'data-test="token-error-expires_at">([^<]+)<', page)
        assert error and message in error.group(1), page
    response = client.post("/account/tokens", data={**form, "expires_on": ""})
    assert 'data-test="token-error-scopes"' not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 0


def test_an_expired_token_is_refused_and_says_so(app, client, token) -> None:
    token_id, secret = token
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    with app.app_context(), transaction():
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    for method, path in [("get", "/me"), ("get", "/challenges"), ("post", "/notifications/read")]:
        response = getattr(client, method)(f"{API}{path}", headers=headers)
        assert response.status_code == 401, (path, response.json)
        assert "expired" in response.json["detail"]


# --- Scopes at creation -------------------------------------------------------------------


def test_scopes_are_required_and_known(app) -> None:
    with app.app_context():
        owner = UserFactory()
        later = utcnow() + timedelta(days=1)
        for chosen, message in [([], "at least one scope"), (["needs:admin"], "needs:admin")]:
            with pytest.raises(Invalid) as refused:
                tokens.create_token(owner, "x", chosen, later)
            assert message in refused.value.errors["scopes"][0]
        made, _secret = tokens.create_token(owner, "x", ["finance:read", "needs:read"], later)
        assert made.scopes == "needs:read finance:read"  # in a fixed order


def test_a_token_cannot_make_a_token_with_more_scopes_than_it_has(app, client) -> None:
    with app.app_context():
        headers = bearer(UserFactory(), scopes=["needs:read", "proposals:write"])
    wider = token_json(scopes=["needs:read", "needs:write"])
    response = client.post(f"{API}/me/tokens", json=wider, headers=headers)
    assert response.status_code == 422
    assert "needs:write" in response.json["errors"]["scopes"][0]
    narrower = {**token_json(scopes=["proposals:write"]), "password": PASSWORD}
    response = client.post(f"{API}/me/tokens", json=narrower, headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["scopes"] == ["proposals:write"]


# --- Last use -----------------------------------------------------------------------------


def test_the_last_use_time_and_address_are_listed(app, client, auth, token) -> None:
    token_id, secret = token
    headers = {"Authorization": f"Bearer {secret}"}
    listed = client.get(f"{API}/me/tokens", headers=headers, environ_base={"REMOTE_ADDR": "::1"})
    assert listed.json[0]["last_used_address"] == "::1"  # the use that lists it counts
    set_last_used(app, token_id, utcnow() - timedelta(minutes=5))
    elsewhere = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get(f"{API}/me", headers=headers, environ_base=elsewhere).status_code == 200
    listed = client.get(f"{API}/me/tokens", headers=headers, environ_base=elsewhere).json
    assert listed[0]["last_used_address"] == "203.0.113.7"
    assert listed[0]["last_used_at"] is not None
    assert listed[0]["scopes"] and listed[0]["expires_at"]
    with app.app_context():
        owner_email = db.session.get(ApiToken, token_id).user.email
    auth.login(owner_email)
    page = client.get("/account").get_data(as_text=True)
    row = re.search(rf'data-test="token-{token_id}">(.*?)</tr>', page, re.S).group(1)
    last_used = re.search(r'data-test="last-used">([^<]+)<', row).group(1)
    assert last_used.endswith("from 203.0.113.7") and "never" not in last_used


# --- Audit --------------------------------------------------------------------------------


def audit_events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def test_creating_revoking_and_refused_tokens_are_audited(app, client, token) -> None:
    token_id, secret = token
    (created,) = audit_events(app, "token.create")
    assert (created.object_type, created.object_id) == ("api_token", str(token_id))
    assert created.details["scopes"] and secret not in str(created.details)
    headers = {"Authorization": f"Bearer {secret}"}
    with app.app_context():
        owner = db.session.get(ApiToken, token_id).user
        tokens.revoke_token(owner, token_id)
        tokens.revoke_token(owner, token_id)  # again: no change, no event
    (revoked,) = audit_events(app, "token.revoke")
    assert (revoked.object_id, revoked.actor_user_id) == (str(token_id), created.actor_user_id)
    elsewhere = {"REMOTE_ADDR": "198.51.100.9"}
    assert client.get(f"{API}/me", headers=headers, environ_base=elsewhere).status_code == 401
    bad = {"Authorization": "Bearer cct_guessed-token"}
    assert client.post(f"{API}/notifications/read", headers=bad).status_code == 401
    first, second = audit_events(app, "token.authenticate")
    assert (first.outcome, first.ip_address) == ("refused", "198.51.100.9")
    assert first.details["request"] == "GET /api/v1/me"
    assert second.details["prefix"] == "cct_guessed-"
