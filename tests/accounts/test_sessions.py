"""Server-side sessions: logging out, a password change, the user or a timeout ends a session on
the server, so copies of its cookies stop working; remember cookies are rotated."""

from __future__ import annotations

import re
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from ledger import as_utc, utcnow
from marketplace import create_app
from marketplace.accounts import recovery, sessions
from marketplace.accounts.models import SessionEnd, User, UserSession
from marketplace.audit.models import AuditEvent
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.jobs import purge_sessions
from tests.conftest import PASSWORD, test_config
from tests.factories import UserFactory, make_token
from tests.sql_writes import writes_during

EMAIL = "ada@example.com"
NEW_PASSWORD = "a much longer new passphrase"


@pytest.fixture
def ada(app: Flask) -> int:
    with app.app_context():
        return UserFactory(email=EMAIL).id


def sign_in(app: Flask, email: str = EMAIL, remember: bool = False, agent: str = "") -> FlaskClient:
    """A new browser, signed in through the form."""
    client = app.test_client()
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    headers = {"User-Agent": agent} if agent else {}
    assert client.post("/login", data=data, headers=headers).status_code == 302
    return client


def signed_in(client: FlaskClient) -> bool:
    answer = client.get("/account")
    assert answer.status_code in (200, 302)
    return answer.status_code == 200


def cookie(client: FlaskClient, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def browser_with(app: Flask, **cookies: str) -> FlaskClient:
    """A browser that has only these cookies (copied from another one)."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def records(app: Flask, email: str = EMAIL) -> list[UserSession]:
    with app.app_context():
        rows = db.session.scalars(
            select(UserSession)
            .join(User, User.id == UserSession.user_id)
            .where(User.email == email)
            .order_by(UserSession.id)
        )
        return list(rows)


def change_record(app: Flask, session_id: int, **values: object) -> None:
    with app.app_context(), transaction():
        db.session.execute(update(UserSession).where(UserSession.id == session_id).values(values))


# --- logging out ---------------------------------------------------------------------------


def test_a_session_cookie_copied_before_logout_is_refused_after_it(app, ada) -> None:
    client = sign_in(app)
    copied = cookie(client, "session")
    assert signed_in(browser_with(app, session=copied))  # the copy works while signed in
    assert client.post("/logout").status_code == 302
    assert not signed_in(client)
    assert not signed_in(browser_with(app, session=copied))
    [record] = records(app)
    assert record.ended_at is not None and record.end_reason == SessionEnd.LOGOUT


def test_a_remember_cookie_copied_before_logout_is_refused_after_it(app, ada) -> None:
    client = sign_in(app, remember=True)
    copied = cookie(client, "remember_token")
    assert copied
    assert client.post("/logout").status_code == 302
    assert cookie(client, "remember_token") is None  # deleted by the logout answer
    thief = browser_with(app, remember_token=copied)
    assert not signed_in(thief)
    assert cookie(thief, "remember_token") is None  # and deleted from the copy's browser too


def test_the_cookies_name_a_session_key_never_the_user_id(app, ada) -> None:
    client = sign_in(app, remember=True)
    with client.session_transaction() as flask_session:
        key = flask_session["_user_id"]
    assert key != str(ada) and len(key) >= 40
    assert cookie(client, "remember_token").startswith(key + "|")
    [record] = records(app)
    assert key not in (record.key_sha256, record.user_agent)  # only its SHA-256 is stored


# --- the remember cookie -------------------------------------------------------------------


def remember_cookie_header(client: FlaskClient, app: Flask) -> str:
    answer = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "remember": "y"})
    [header] = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith("remember_token")]
    return header


def test_the_remember_cookie_is_httponly_lax_and_lasts_as_long_as_a_remembered_session(
    app, ada
) -> None:
    header = remember_cookie_header(app.test_client(), app)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    morsel = SimpleCookie(header)["remember_token"]
    from email.utils import parsedate_to_datetime

    expires = parsedate_to_datetime(morsel["expires"])
    assert abs(expires - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)


def test_the_remember_cookie_is_secure_whenever_the_session_cookie_is(database, ada) -> None:
    secure_app = create_app(test_config(database.url, SESSION_COOKIE_SECURE=True))
    try:
        assert secure_app.config["REMEMBER_COOKIE_SECURE"] is True
        header = remember_cookie_header(secure_app.test_client(), secure_app)
        assert "Secure" in header
    finally:
        with secure_app.app_context():
            db.engine.dispose()


def test_a_remember_cookie_restores_the_session_once_with_a_new_key(app, ada) -> None:
    first = cookie(sign_in(app, remember=True), "remember_token")
    browser = browser_with(app, remember_token=first)  # the session cookie is gone
    assert signed_in(browser)
    second = cookie(browser, "remember_token")
    assert second and second != first  # rotated
    assert signed_in(browser)  # the browser goes on with the new key
    assert not signed_in(browser_with(app, remember_token=first))  # the old cookie is dead
    assert signed_in(browser_with(app, remember_token=second))
    [record] = records(app)
    assert record.ended_at is None and record.remembered


def test_signing_in_without_remember_deletes_an_earlier_remember_cookie(app, ada) -> None:
    client = sign_in(app, remember=True)
    client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert cookie(client, "remember_token") is None
    first, second = records(app)
    assert first.end_reason == SessionEnd.SIGNED_IN_AGAIN and second.ended_at is None


# --- timeouts ------------------------------------------------------------------------------


def test_a_session_idle_past_the_idle_timeout_is_signed_out(app, ada) -> None:
    client = sign_in(app)
    [record] = records(app)
    change_record(app, record.id, last_seen_at=utcnow() - timedelta(minutes=59))
    assert signed_in(client)  # just inside: still signed in, and seen again now
    [record] = records(app)
    assert as_utc(record.last_seen_at) > utcnow() - timedelta(minutes=1)
    change_record(app, record.id, last_seen_at=utcnow() - timedelta(minutes=61))
    assert not signed_in(client)
    [record] = records(app)
    assert record.end_reason == SessionEnd.IDLE


def test_a_session_past_the_absolute_timeout_is_signed_out_however_busy(app, ada) -> None:
    client = sign_in(app)
    [record] = records(app)
    change_record(app, record.id, created_at=utcnow() - timedelta(hours=11, minutes=59))
    assert signed_in(client)
    change_record(app, record.id, created_at=utcnow() - timedelta(hours=12, minutes=1))
    assert not signed_in(client)
    [record] = records(app)
    assert record.end_reason == SessionEnd.EXPIRED


def test_a_remembered_session_has_no_idle_timeout_and_ends_after_thirty_days(app, ada) -> None:
    client = sign_in(app, remember=True)
    remember_token = cookie(client, "remember_token")
    [record] = records(app)
    change_record(
        app,
        record.id,
        created_at=utcnow() - timedelta(days=29),
        last_seen_at=utcnow() - timedelta(days=3),
    )
    assert signed_in(client)
    change_record(app, record.id, created_at=utcnow() - timedelta(days=30, minutes=1))
    assert not signed_in(client)
    assert not signed_in(browser_with(app, remember_token=remember_token))
    [record] = records(app)
    assert record.end_reason == SessionEnd.EXPIRED


def test_last_seen_is_written_at_most_once_a_minute(app, ada) -> None:
    client = sign_in(app)
    with writes_during(app) as soon:
        for _ in range(3):
            assert signed_in(client)
    assert soon == []
    [record] = records(app)
    change_record(app, record.id, last_seen_at=utcnow() - timedelta(minutes=2))
    with writes_during(app) as later:
        assert signed_in(client)
    assert len(later) == 1 and "user_sessions" in later[0]


def test_a_deactivated_users_sessions_are_signed_out(app, ada) -> None:
    client = sign_in(app)
    with app.app_context(), transaction():
        db.session.execute(update(User).where(User.id == ada).values(active=False))
    assert not signed_in(client)


# --- password change -----------------------------------------------------------------------


def change_password(client: FlaskClient, current: str = PASSWORD, new: str = NEW_PASSWORD):
    return client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "confirm": new},
    )


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, ada) -> None:
    here = sign_in(app, agent="Here/1.0")
    elsewhere = sign_in(app, agent="Elsewhere/1.0")
    remembered = sign_in(app, remember=True, agent="Remembered/1.0")
    remember_token = cookie(remembered, "remember_token")
    with app.app_context():
        _token, secret = make_token(db.session.get(User, ada), "script")
    answer = change_password(here)
    assert answer.status_code == 302
    assert "Other sessions signed out: 2" in here.get("/account").get_data(as_text=True)
    assert signed_in(here)
    assert not signed_in(elsewhere)
    assert not signed_in(remembered)
    assert not signed_in(browser_with(app, remember_token=remember_token))
    reasons = {r.user_agent: r.end_reason for r in records(app)}
    assert reasons == {
        "Here/1.0": None,
        "Elsewhere/1.0": SessionEnd.PASSWORD_CHANGED,
        "Remembered/1.0": SessionEnd.PASSWORD_CHANGED,
    }
    # nothing else is revoked silently: the API token still works, and the new password too
    me = here.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    fresh = app.test_client()
    login = {"email": EMAIL, "password": NEW_PASSWORD}
    assert fresh.post("/login", data=login).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "field", "message"),
    [
        ("not my password at all", NEW_PASSWORD, "current_password", "not your current password"),
        (PASSWORD, "short", "new_password", "at least"),
    ],
)
def test_a_refused_password_change_changes_nothing(app, ada, current, new, field, message) -> None:
    here = sign_in(app)
    elsewhere = sign_in(app)
    answer = change_password(here, current=current, new=new)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert message in page and f'id="{field}" name="{field}"' in page.replace(
        'aria-invalid="true" ', ""
    )
    assert signed_in(here) and signed_in(elsewhere)
    with app.app_context():
        assert db.session.get(User, ada).password_hash == UserFactory.password_hash


def test_end_sessions_for_a_password_reset_ends_them_all(app, ada) -> None:
    """The entry point a password reset uses: no session kept."""
    browsers = [sign_in(app), sign_in(app, remember=True)]
    with app.app_context():
        assert (
            sessions.end_sessions(db.session.get(User, ada), reason=SessionEnd.PASSWORD_RESET) == 2
        )
    assert not any(signed_in(browser) for browser in browsers)
    assert {r.end_reason for r in records(app)} == {SessionEnd.PASSWORD_RESET}


# --- the sessions on the account page and in the API ---------------------------------------


def session_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-test="session-(\d+)"', page)]


def test_the_account_page_lists_the_live_sessions_and_marks_this_one(app, ada) -> None:
    sign_in(app, agent="Firefox/140.0")
    gone = sign_in(app, agent="Gone/1.0")
    gone.post("/logout")
    here = sign_in(app, agent="Chromium/150.0")
    page = here.get("/account").get_data(as_text=True)
    assert "Firefox/140.0" in page and "Chromium/150.0" in page and "Gone/1.0" not in page
    assert page.count('data-test="this-session"') == 1
    this_row = page.split('data-test="this-session"')[0].rsplit("<tr", 1)[1]
    assert "Chromium/150.0" in this_row
    assert "127.0.0.1" in page
    assert 'id="api-tokens"' in page  # the tokens are on the same page
    assert len(session_ids(page)) == 2


def test_the_user_ends_one_other_session_or_all_others(app, ada) -> None:
    here = sign_in(app, agent="Here/1.0")
    laptop = sign_in(app, agent="Laptop/1.0")
    phone = sign_in(app, agent="Phone/1.0")
    tablet = sign_in(app, agent="Tablet/1.0")
    ids = {r.user_agent: r.id for r in records(app)}
    assert here.post(f"/account/sessions/{ids['Laptop/1.0']}/end").status_code == 302
    assert not signed_in(laptop) and signed_in(phone) and signed_in(here)
    assert here.post("/account/sessions/end-others").status_code == 302
    assert not signed_in(phone) and not signed_in(tablet) and signed_in(here)
    reasons = {r.user_agent: r.end_reason for r in records(app)}
    assert reasons["Laptop/1.0"] == reasons["Tablet/1.0"] == SessionEnd.ENDED_BY_USER
    assert reasons["Here/1.0"] is None


def test_ending_this_session_from_the_list_signs_out(app, ada) -> None:
    here = sign_in(app)
    [record] = records(app)
    answer = here.post(f"/account/sessions/{record.id}/end")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert not signed_in(here)


def test_nobody_ends_someone_elses_session(app, ada) -> None:
    with app.app_context():
        UserFactory(email="eve@example.com")
    ada_browser = sign_in(app)
    eve = sign_in(app, email="eve@example.com")
    [ada_session] = records(app)
    assert eve.post(f"/account/sessions/{ada_session.id}/end").status_code == 404
    with app.app_context():
        _token, secret = make_token(
            db.session.scalar(select(User).where(User.email == "eve@example.com")), "eve"
        )
    answer = eve.delete(
        f"/api/v1/me/sessions/{ada_session.id}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 404
    eve.post("/account/sessions/end-others")
    assert signed_in(ada_browser)
    assert records(app)[0].ended_at is None


def test_the_api_lists_ones_sessions_and_ends_one_with_a_token(app, ada) -> None:
    here = sign_in(app, agent="Here/1.0")
    other = sign_in(app, agent="Other/1.0")
    listed = here.get("/api/v1/me/sessions")
    assert listed.status_code == 200
    by_agent = {s["user_agent"]: s for s in listed.json}
    assert set(by_agent) == {"Here/1.0", "Other/1.0"}
    assert by_agent["Here/1.0"]["current"] is True and by_agent["Other/1.0"]["current"] is False
    assert by_agent["Here/1.0"]["remembered"] is False and by_agent["Here/1.0"]["expires_at"]
    other_id = by_agent["Other/1.0"]["id"]
    assert here.delete(f"/api/v1/me/sessions/{other_id}").status_code == 401  # cookie only
    assert signed_in(other)
    with app.app_context():
        _token, secret = make_token(db.session.get(User, ada), "script")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert here.delete(f"/api/v1/me/sessions/{other_id}", headers=bearer).status_code == 204
    assert not signed_in(other) and signed_in(here)
    assert [s["user_agent"] for s in here.get("/api/v1/me/sessions").json] == ["Here/1.0"]


def test_a_password_reset_through_the_link_signs_out_every_session(app, ada) -> None:
    browsers = [sign_in(app), sign_in(app, remember=True)]
    with app.app_context():
        path = f"/reset-password/{recovery.password_reset_token(db.session.get(User, ada))}"
    answer = browsers[0].post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert answer.status_code == 302
    assert not any(signed_in(browser) for browser in browsers)
    assert cookie(browsers[0], "remember_token") is None
    assert {r.end_reason for r in records(app)} == {SessionEnd.PASSWORD_RESET}


# --- the audit trail -----------------------------------------------------------------------


def events(app: Flask, action: str, after: int) -> list[AuditEvent]:
    """The events of this action written after the event ``after`` (other tests' committed
    runs may have left some)."""
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.id > after)
        return list(db.session.scalars(query.order_by(AuditEvent.id)))


def test_sign_outs_ended_sessions_and_password_changes_are_audited(app, ada) -> None:
    with app.app_context():
        start = db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))
    here = sign_in(app)
    other, third, leaving = sign_in(app), sign_in(app), sign_in(app)
    leaving.post("/logout")
    ids = [r.id for r in records(app)]
    here.post(f"/account/sessions/{ids[1]}/end")
    change_password(here, current="not my password at all")
    change_password(here)
    with app.app_context():
        UserFactory(email="eve@example.com")
    sign_in(app, email="eve@example.com").post(f"/account/sessions/{ids[0]}/end")

    [sign_out] = events(app, "session.sign_out", start)
    assert (sign_out.actor_user_id, sign_out.object_id) == (ada, str(ids[3]))
    by_ada, by_eve = events(app, "session.end", start)
    assert (by_ada.outcome, by_ada.object_id, by_ada.details) == (
        "succeeded",
        str(ids[1]),
        {"reason": "ended_by_user"},
    )
    assert (by_eve.outcome, by_eve.object_id) == ("refused", str(ids[0]))
    assert by_eve.actor_user_id != ada
    [ended] = events(app, "session.end_all", start)
    assert ended.details == {"reason": "password_changed", "ended": 1, "kept": ids[0]}
    refused, changed = events(app, "account.change_password", start)
    assert refused.outcome == "refused" and changed.details == {"sessions_ended": 1}
    assert signed_in(here) and not signed_in(other) and not signed_in(third)


def test_the_daily_purge_deletes_only_sessions_long_past_their_end(app, ada) -> None:
    old, recent = sign_in(app), sign_in(app, remember=True)
    assert signed_in(old) and signed_in(recent)
    first, second = (record.id for record in records(app))
    with app.app_context():
        longest = app.config["REMEMBER_COOKIE_DURATION"]
    # one began long enough ago to be over a month past any session's end; the other not yet
    change_record(app, first, created_at=utcnow() - longest - sessions.KEEP_AFTER_END
                  - timedelta(minutes=1))  # fmt: skip
    change_record(app, second, created_at=utcnow() - longest - sessions.KEEP_AFTER_END
                  + timedelta(minutes=1))  # fmt: skip
    with app.app_context():
        assert purge_sessions() == 1
    assert [record.id for record in records(app)] == [second]
    assert not signed_in(old)
