"""Account recovery and care: password reset, email change, the password policy, registration
that tells nobody which emails exist, and the rate limits on the doors into accounts."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from marketplace.accounts import recovery
from marketplace.accounts.models import User
from marketplace.accounts.passwords import password_problems
from marketplace.audit.models import AuditEvent
from marketplace.demo import DEMO_PASSWORD, PEOPLE
from marketplace.extensions import db, limiter
from marketplace.outbox import OutboxJob
from tests.conftest import PASSWORD
from tests.factories import UserFactory, make_token

NEW_PASSWORD = "velvet tractor orbit lemon"
MAIL = "marketplace.mail"


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def jobs(app: Flask, function: str) -> list[list]:
    with app.app_context():
        return list(
            db.session.scalars(select(OutboxJob.args).where(OutboxJob.function == function))
        )


def audit(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def link_in(text: str, path: str) -> str:
    """The path of the first link to ``path`` in the logged emails."""
    match = re.search(rf"http://localhost({re.escape(path)}[^\s]+)", text)
    assert match, f"no {path} link in the emails"
    return match.group(1)


@pytest.fixture
def ada(app: Flask) -> str:
    with app.app_context():
        return UserFactory(email="ada@example.com", name="Ada Lovelace").email


@pytest.fixture
def limits(app: Flask) -> Iterator[dict]:
    """Set rate-limit settings for one test, on counts that start from zero."""
    saved = dict(app.config)
    limiter.reset()
    yield app.config
    for key in [k for k in app.config if k.endswith("_RATE_LIMIT")]:
        app.config[key] = saved[key]
    limiter.reset()


# --- the password policy ---


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short one", "at least 12 characters"),
        ("password1234", "too common"),
        ("qwertyuiop123", "too common"),
        ("ada@example.com", "email address"),
        ("my ada@example.com!", "email address"),
    ],
)
def test_weak_passwords_are_refused_with_a_field_message(password: str, message: str) -> None:
    problems = password_problems(password, "ada@example.com", "Ada Lovelace")
    assert problems and message in problems[0]


def test_a_few_unrelated_words_pass() -> None:
    assert password_problems(NEW_PASSWORD, "ada@example.com", "Ada Lovelace") == []
    assert password_problems(PASSWORD, "grace@example.com", "Grace Hopper") == []


def test_the_demo_password_passes_for_every_demo_person() -> None:
    for email, name, *_ in PEOPLE:
        assert password_problems(DEMO_PASSWORD, email, name) == [], email


# --- password reset ---


def ask_reset(client, email: str):
    return client.post("/reset-password", data={"email": email})


def test_a_reset_request_answers_the_same_for_known_and_unknown_emails(
    app, client, ada, caplog
) -> None:
    with caplog.at_level(logging.INFO, logger=MAIL):
        known = ask_reset(client, "ADA@example.com ")
        unknown = ask_reset(client, "nobody@example.com")
    assert (known.status_code, known.headers["Location"], known.get_data()) == (
        unknown.status_code,
        unknown.headers["Location"],
        unknown.get_data(),
    )
    assert known.status_code == 302
    sent = client.get(known.headers["Location"])
    assert sent.status_code == 200 and "If an account has this address" in sent.get_data(
        as_text=True
    )
    # The same work in the request: one outbox job each; only the job looks the address up.
    assert jobs(app, "send_password_reset") == [["ada@example.com"], ["nobody@example.com"]]
    assert "to=ada@example.com subject=Reset your password" in caplog.text
    assert "to=nobody@example.com" not in caplog.text
    assert link_in(caplog.text, "/reset-password/")


def test_a_reset_link_sets_a_new_password_once(app, client, auth, ada, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=MAIL):
        ask_reset(client, ada)
    path = link_in(caplog.text, "/reset-password/")
    with app.app_context():
        before = user(ada).password_hash

    page = client.get(path)  # the form; nothing changes
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert user(ada).password_hash == before

    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert auth.login(ada).status_code == 422  # the old password is gone
    assert auth.login(ada, NEW_PASSWORD).status_code == 302
    assert [e.outcome for e in audit(app, "account.password_reset")] == ["succeeded"]

    # Single use: the link named the old password's hash.
    again = client.post(path, data={"password": "another fine phrase here"} | {
        "confirm": "another fine phrase here"})  # fmt: skip
    assert again.status_code == 410 and "not valid any more" in again.get_data(as_text=True)
    assert client.get(path).status_code == 410
    assert auth.login(ada, NEW_PASSWORD).status_code == 302


def test_an_expired_or_forged_reset_link_is_refused(app, client, auth, ada) -> None:
    with app.app_context():
        path = f"/reset-password/{recovery.password_reset_token(user(ada))}"
    app.config["PASSWORD_RESET_MAX_AGE"] = -1  # every link is older than that
    try:
        expired = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    finally:
        app.config["PASSWORD_RESET_MAX_AGE"] = 3600
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    forged = client.post(path[:-3] + "abc", data={"password": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})  # fmt: skip
    assert forged.status_code == 410
    assert auth.login(ada).status_code == 302  # the password did not change


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 12"), ("password1234", "too common"), ("ada@example.com", "email")],
)
def test_a_reset_refuses_a_weak_password_and_keeps_the_link(
    app, client, auth, ada, password, message
) -> None:
    with app.app_context():
        path = f"/reset-password/{recovery.password_reset_token(user(ada))}"
    response = client.post(path, data={"password": password, "confirm": password})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert auth.login(ada).status_code == 302
    auth.logout()
    good = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post(path, data=good).status_code == 302


# --- registration tells nobody which emails exist ---


def sign_up(client, email: str, password: str = NEW_PASSWORD):
    return client.post(
        "/register",
        data={"name": "Someone", "email": email, "password": password, "confirm": password},
    )


def test_registration_answers_the_same_for_a_new_and_a_known_email(
    app, client, ada, caplog
) -> None:
    with caplog.at_level(logging.INFO, logger=MAIL):
        new = sign_up(client, "newcomer@example.com")
        known = sign_up(client, "Ada@Example.com")
    assert (new.status_code, new.headers["Location"], new.get_data()) == (
        known.status_code,
        known.headers["Location"],
        known.get_data(),
    )
    assert "Signed in as" not in client.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 2  # ada and the newcomer
        assert user(ada).name == "Ada Lovelace"  # the known account is untouched
        ada_id = user(ada).id
    # The owner of the known address is told instead, with the ways back in.
    assert jobs(app, "send_registration_notice") == [[ada_id]]
    assert "to=ada@example.com subject=Someone tried to register with your address" in caplog.text
    assert "http://localhost/reset-password" in caplog.text
    assert "to=newcomer@example.com subject=Confirm your email address" in caplog.text
    assert [e.outcome for e in audit(app, "account.register")] == ["succeeded", "refused"]


def test_the_confirmation_link_signs_a_new_registrant_in_once(app, client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=MAIL):
        sign_up(client, "newcomer@example.com")
    path = link_in(caplog.text, "/verify-email/")
    assert client.get(path).status_code == 200
    with app.app_context():
        assert user("newcomer@example.com").email_verified_at is None  # GET changed nothing
    assert client.post(path).status_code == 302
    assert "newcomer@example.com" in client.get("/").get_data(as_text=True)
    client.post("/logout")
    # Clicked again later (by anyone holding the email): it confirms, it does not sign in.
    assert client.post(path).status_code == 302
    assert "Signed in as" not in client.get("/").get_data(as_text=True)


def test_the_confirmation_link_does_not_skip_a_second_factor(app, client) -> None:
    """Someone who signed in with the password before confirming, and set up a second factor,
    is not signed in by the link: they sign in with both factors."""
    from marketplace.accounts import second_factor
    from marketplace.accounts.services import email_verification_token

    with app.app_context():
        person = UserFactory(email="careful@example.com", email_verified_at=None)
        second_factor.enrol(person)
        db.session.commit()
        path = f"/verify-email/{email_verification_token(person)}"
    assert client.post(path).status_code == 302
    assert "Signed in as" not in client.get("/").get_data(as_text=True)
    with app.app_context():
        assert user("careful@example.com").email_verified_at is not None


# --- email change ---


def ask_email_change(client, email: str, password: str = PASSWORD):
    return client.post("/account/email", data={"email": email, "password": password})


def test_an_email_change_needs_the_password(app, client, auth, ada) -> None:
    auth.login(ada)
    response = ask_email_change(client, "ada@new.example", "not my password at all")
    assert response.status_code == 422
    assert "not your current password" in response.get_data(as_text=True)
    assert jobs(app, "send_email_change_link") == []
    assert [e.outcome for e in audit(app, "account.email_change_request")] == ["refused"]


def test_an_email_change_is_confirmed_at_the_new_address_and_told_to_the_old(
    app, client, auth, ada, caplog
) -> None:
    auth.login(ada)
    with caplog.at_level(logging.INFO, logger=MAIL):
        assert ask_email_change(client, "Ada@New.example").status_code == 302
    assert "to=ada@new.example subject=Confirm your new email address" in caplog.text
    path = link_in(caplog.text, "/account/email/confirm/")
    with app.app_context():
        assert user(ada) is not None  # nothing changes before the link is used

    page = client.get(path)
    assert page.status_code == 200 and "ada@new.example" in page.get_data(as_text=True)
    with app.app_context():
        assert user(ada) is not None  # GET changed nothing

    # Another signed-in person cannot use it.
    auth.logout()
    with app.app_context():
        UserFactory(email="eve@example.com")
    auth.login("eve@example.com")
    assert client.post(path).status_code == 403
    assert client.get(path).status_code == 403
    auth.logout()

    auth.login(ada)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=MAIL):
        assert client.post(path).status_code == 302
    with app.app_context():
        moved = user("ada@new.example")
        assert moved is not None and moved.email_verified_at is not None
        assert user(ada) is None
    assert "to=ada@example.com subject=Your account's email address was changed" in caplog.text
    assert [e.details for e in audit(app, "account.email_change")] == [
        {"old_email": "ada@example.com", "new_email": "ada@new.example"}
    ]
    assert client.post(path).status_code == 410  # used: the account left the old address
    auth.logout()
    assert auth.login("ada@new.example").status_code == 302


def test_an_email_change_to_a_taken_address_is_refused_at_confirmation(
    app, client, auth, ada
) -> None:
    with app.app_context():
        UserFactory(email="taken@example.com")
    auth.login(ada)
    assert ask_email_change(client, "taken@example.com").status_code == 302  # tells nothing
    with app.app_context():
        token = jobs(app, "send_email_change_link")[0][2]
    refused = client.post(f"/account/email/confirm/{token}")
    assert refused.status_code == 410
    assert "already belongs to another account" in refused.get_data(as_text=True)
    with app.app_context():
        assert user(ada) is not None


# --- rate limits ---


def test_sign_in_is_throttled_per_account_from_any_address(app, client, ada, limits) -> None:
    """The per-address limit does not stop an attacker with many addresses; the per-account
    one does. The app trusts no X-Forwarded-For: addresses are the socket's (REMOTE_ADDR)."""
    limits["LOGIN_ACCOUNT_RATE_LIMIT"] = "3 per hour"
    limits["LOGIN_RATE_LIMIT"] = "2 per hour"  # per address: never reached below

    def attempt(address: int, email: str = "Ada@Example.com ", password: str = "wrong guess!!"):
        return client.post(
            "/login",
            data={"email": email, "password": password},
            environ_base={"REMOTE_ADDR": f"10.0.0.{address}"},
        )

    assert [attempt(n).status_code for n in range(1, 4)] == [422, 422, 422]
    refused = attempt(4, password=PASSWORD)  # even the right password, from a new address
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)
    assert "Too many failed sign-ins to this account" in text and "<html" in text
    # Another account, from the same address, is not affected.
    with app.app_context():
        UserFactory(email="bob@example.com")
    assert attempt(4, "bob@example.com", PASSWORD).status_code == 302
    events = [e for e in audit(app, "session.sign_in") if e.details.get("reason")]
    assert [(e.outcome, e.details["email"], e.ip_address) for e in events][-1] == (
        "refused", "ada@example.com", "10.0.0.4",
    )  # fmt: skip


def test_successful_sign_ins_do_not_use_up_the_account_limit(app, client, ada, limits) -> None:
    limits["LOGIN_ACCOUNT_RATE_LIMIT"] = "2 per hour"
    for _ in range(4):
        assert client.post("/login", data={"email": ada, "password": PASSWORD}).status_code == 302
        client.post("/logout")


def test_registration_and_reset_requests_are_limited(app, client, ada, limits) -> None:
    limits["REGISTRATION_RATE_LIMIT"] = "2 per hour"
    limits["PASSWORD_RESET_RATE_LIMIT"] = "2 per hour"
    assert [sign_up(client, f"n{i}@example.com").status_code for i in range(3)] == [302, 302, 429]
    assert "Too many registrations" in sign_up(client, "n9@example.com").get_data(as_text=True)
    assert client.get("/register").status_code == 200  # the page itself is not limited
    # Per email too: nobody floods the owner of a known address with notices.
    again = [
        client.post("/register", environ_base={"REMOTE_ADDR": f"10.2.2.{n}"}, data={
            "name": "X", "email": ada, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        }).status_code
        for n in range(3)
    ]  # fmt: skip
    assert again == [302, 302, 429]
    assert len(jobs(app, "send_registration_notice")) == 2
    # Per email asked for: a second address cannot flood one inbox.
    statuses = [
        ask_reset(client.application.test_client(), ada).status_code,
        client.post("/reset-password", data={"email": ada},
                    environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code,
        client.post("/reset-password", data={"email": ada},
                    environ_base={"REMOTE_ADDR": "10.1.1.2"}).status_code,
    ]  # fmt: skip
    assert statuses == [302, 302, 429]
    assert len(jobs(app, "send_password_reset")) == 2


def test_invitation_redemption_is_limited_on_pages_and_api(app, client, auth, ada, limits) -> None:
    limits["INVITATION_RATE_LIMIT"] = "2 per hour"
    auth.login(ada)
    pages = [client.post("/invitations/guess").status_code for _ in range(2)]
    assert pages == [410, 410]
    # The same count covers team invitations and the API.
    assert client.post("/team-invitations/guess").status_code == 429
    with app.app_context():
        _, secret = make_token(user(ada), "test")
    api = client.post(
        "/api/v1/invitations/redeem",
        json={"token": "guess"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert api.status_code == 429 and api.json["status"] == 429
