"""Register, sign in, sign out: forms, CSRF, rate limit, and what bad input gets."""

from __future__ import annotations

import logging

import pytest
import redis
from sqlalchemy import func, select

from marketplace import create_app
from marketplace.accounts import services as account_services
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.outbox import OutboxJob
from tests.conftest import PASSWORD, need_service, test_config
from tests.factories import UserFactory


def count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def register(client, **fields):
    data = {
        "name": "Grace Hopper",
        "email": "Grace@Example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        **fields,
    }
    return client.post("/register", data=data)


def test_register_stores_a_lowercase_email_and_argon2_hash_and_asks_to_check_email(
    app, client
) -> None:
    response = register(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/register/check-email"
    assert "Check your email" in client.get("/register/check-email").get_data(as_text=True)
    assert "Signed in as" not in client.get("/").get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.email == "grace@example.com"
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_email_is_unique_whatever_its_case(app, client) -> None:
    register(client)
    response = register(client, email="GRACE@example.COM")
    assert response.status_code == 302  # the same answer as for a new address
    assert count_users(app) == 1


def verification_jobs(app) -> list[list]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxJob.args).where(OutboxJob.function == "send_verification")
            )
        )


def test_registering_writes_the_user_and_its_confirmation_email_in_one_commit(
    app, client
) -> None:
    """One command: the user row and the job that mails the confirmation link are committed
    together; a refused registration writes neither."""
    assert register(client).status_code == 302
    with app.app_context():
        user_id = db.session.scalar(select(User.id))
    assert verification_jobs(app) == [[user_id]]
    assert register(client, email="GRACE@example.com").status_code == 302  # known: no user
    assert register(client, email="second@example.com", password="short").status_code == 422
    assert (count_users(app), verification_jobs(app)) == (1, [[user_id]])


def test_a_registration_whose_email_job_cannot_be_written_saves_no_user(
    app, client, monkeypatch
) -> None:
    """The job is part of the command: when it cannot be recorded, the user is not kept."""

    def no_outbox(*args, **kwargs):
        raise RuntimeError("the outbox table is gone")

    monkeypatch.setattr(account_services, "enqueue", no_outbox)
    with pytest.raises(RuntimeError):
        register(client)
    assert (count_users(app), verification_jobs(app)) == (0, [])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email"}, "valid email"),
        ({"password": "short", "confirm": "short"}, "at least 12 characters"),
        ({"password": "password1234", "confirm": "password1234"}, "too common"),
        ({"password": "grace@example.com", "confirm": "grace@example.com"}, "email address"),
        ({"confirm": "something else entirely"}, "Passwords differ"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_bad_registration_shows_the_field_error_and_writes_nothing(
    app, client, fields, message
) -> None:
    response = register(client, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count_users(app) == 0


def test_login_and_logout(app, client, auth) -> None:
    with app.app_context():
        email = UserFactory(email="ada@example.com").email
    assert auth.login(email.upper()).status_code == 302
    assert "ada@example.com" in client.get("/").get_data(as_text=True)
    assert auth.logout().status_code == 302
    assert "Signed in as" not in client.get("/").get_data(as_text=True)


def test_wrong_password_and_unknown_email_get_the_same_answer(app, auth) -> None:
    with app.app_context():
        UserFactory(email="ada@example.com")
    wrong = auth.login("ada@example.com", "wrong password!")
    unknown = auth.login("nobody@example.com", "wrong password!")
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert "Wrong email or password." in response.get_data(as_text=True)


def test_inactive_user_cannot_sign_in(app, auth) -> None:
    with app.app_context():
        UserFactory(email="gone@example.com", active=False)
    assert auth.login("gone@example.com").status_code == 422


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/account", "/account"), ("https://evil.example/", "/"), ("//evil.example/", "/")],
)
def test_login_redirects_only_within_the_site(app, client, target, expected) -> None:
    with app.app_context():
        UserFactory(email="ada@example.com")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "ada@example.com", "password": PASSWORD},
    )
    assert response.headers["Location"] == expected


def test_pages_that_need_a_user_send_visitors_to_sign_in(client) -> None:
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.fixture
def strict_app(database):
    """An app with CSRF and the login rate limit on, as in production."""
    app = create_app(
        test_config(database.url, WTF_CSRF_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_forms_without_a_csrf_token_are_refused(strict_app) -> None:
    client = strict_app.test_client()
    response = client.post(
        "/register",
        data={"name": "X", "email": "csrf@example.com", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.post("/logout").status_code == 400


def test_login_is_rate_limited(strict_app) -> None:
    client = strict_app.test_client()
    statuses = []
    for _ in range(4):
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        statuses.append(
            client.post(
                "/login",
                data={
                    "csrf_token": token,
                    "email": "nobody@example.com",
                    "password": "wrong password!",
                },
            ).status_code
        )
    assert statuses == [422, 422, 422, 429]
    assert client.get("/login").status_code == 200  # only attempts are limited


def test_login_limit_is_shared_through_redis_across_app_processes(database) -> None:
    """Two apps (two gunicorn workers) with Redis storage count the same attempts."""
    redis_url = need_service("TEST_REDIS_URL", "the Redis rate-limit check")
    connection = redis.Redis.from_url(redis_url)
    pattern = "*accounts.login*"  # Flask-Limiter's key names the endpoint
    for key in connection.keys(pattern):
        connection.delete(key)
    settings = dict(LOGIN_RATE_LIMIT="2 per minute", RATELIMIT_STORAGE_URI=redis_url)
    first = create_app(test_config(database.url, **settings))
    bad = {"email": "nobody@example.com", "password": "wrong password!"}
    assert [first.test_client().post("/login", data=bad).status_code for _ in range(2)] == [
        422,
        422,
    ]
    second = create_app(test_config(database.url, **settings))
    assert second.test_client().post("/login", data=bad).status_code == 429
    keys = connection.keys(pattern)
    assert keys
    connection.delete(*keys)
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


def test_profile_sets_country_and_time_zone(app, client, auth) -> None:
    with app.app_context():
        UserFactory(email="ada@example.com")
    auth.login("ada@example.com")
    client.post("/account/profile", data={"name": "Ada", "country": "de", "timezone": "Asia/Tokyo"})
    bad = client.post(
        "/account/profile", data={"name": "Ada", "country": "Germany", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "two-letter ISO country code" in page and "Choose a time zone" in page
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        assert (user.name, user.country, user.timezone) == ("Ada", "DE", "Asia/Tokyo")


def test_registration_sends_a_confirmation_link(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="marketplace.mail"):
        register(client, email="new@example.com")
    assert "to=new@example.com subject=Confirm your email address" in caplog.text
    link = caplog.text.split("Confirm your address: ")[1].split()[0]
    assert link.startswith("http://localhost/verify-email/")
    path = link.removeprefix("http://localhost")
    assert client.get(path).status_code == 200  # the page with the button; nobody signed in
    assert "Signed in as" not in client.get("/").get_data(as_text=True)
    assert client.post(path).status_code == 302  # confirms and signs the new registrant in
    assert 'data-test="verified"' in client.get("/account").get_data(as_text=True)
