"""Rate limits of the API: failed token authentication per address, every request and writes per
user, export requests per user; ``RateLimit-*`` headers on API answers, and a 429 that is a JSON
problem with ``Retry-After``. Counted in Redis when TEST_REDIS_URL is set (else in memory).

Each test starts from empty counts, and uses addresses of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from marketplace.audit.models import AuditEvent
from marketplace.extensions import db, limiter
from tests.factories import UserFactory, bearer

API = "/api/v1"


@pytest.fixture
def limits(app: Flask) -> Iterator[dict]:
    """Set limits on the test's app (read at each request); in Redis when there is one. Counts
    start from zero: user ids come again after each test's rollback."""
    saved = dict(app.config)
    redis_url = os.environ.get("TEST_REDIS_URL")
    if redis_url:
        app.config["RATELIMIT_STORAGE_URI"] = redis_url
        limiter.init_app(app)
    with app.app_context():
        limiter.reset()
    try:
        yield app.config
    finally:
        app.config.clear()
        app.config.update(saved)
        if redis_url:
            limiter.init_app(app)


def address() -> dict[str, str]:
    """A client address of this test alone."""
    return {"REMOTE_ADDR": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"}


def test_the_21st_failed_token_authentication_in_a_minute_answers_429(app, client, limits):
    limits["TOKEN_FAILURE_RATE_LIMIT"] = "20 per minute"
    attacker, elsewhere = address(), address()
    with app.app_context():
        valid = bearer(UserFactory())
    wrong = {"Authorization": "Bearer cct_guessed"}
    statuses = [
        client.get(f"{API}/me", headers=wrong, environ_base=attacker).status_code
        for _ in range(20)
    ]
    assert statuses == [401] * 20
    refused = client.get(f"{API}/me", headers=wrong, environ_base=attacker)
    assert refused.status_code == 429
    assert refused.json["status"] == 429 and "invalid API token" in refused.json["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    with app.app_context():
        reasons = [
            event.details["reason"]
            for event in db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "token.authenticate")
            )
        ]
    assert len(reasons) == 21 and reasons[-1].startswith("too many failed")
    # From that address even a valid token waits: guessing gets nowhere.
    assert client.get(f"{API}/me", headers=valid, environ_base=attacker).status_code == 429
    # Requests without a token, and tokens from elsewhere, are not held back.
    assert client.get(f"{API}/challenges", environ_base=attacker).status_code == 200
    assert client.get(f"{API}/me", headers=valid, environ_base=elsewhere).status_code == 200
    assert client.get(f"{API}/me", headers=wrong, environ_base=elsewhere).status_code == 401


def test_successful_token_use_does_not_count_as_failure(app, client, limits):
    limits["TOKEN_FAILURE_RATE_LIMIT"] = "2 per minute"
    here = address()
    with app.app_context():
        valid = bearer(UserFactory())
    for _ in range(5):
        assert client.get(f"{API}/me", headers=valid, environ_base=here).status_code == 200


def test_api_answers_carry_rate_limit_headers(app, client, limits):
    limits["API_RATE_LIMIT"] = "5 per minute"
    limits["API_WRITE_RATE_LIMIT"] = "3 per minute"
    with app.app_context():
        headers = bearer(UserFactory())
    first = client.get(f"{API}/me", headers=headers)
    second = client.get(f"{API}/me", headers=headers)
    assert first.headers["RateLimit-Limit"] == "5"
    assert (first.headers["RateLimit-Remaining"], second.headers["RateLimit-Remaining"]) == (
        "4",
        "3",
    )
    assert 0 <= int(first.headers["RateLimit-Reset"]) <= 61  # seconds, not a time stamp
    write = client.post(f"{API}/notifications/read", headers=headers)
    assert write.status_code == 204
    assert (write.headers["RateLimit-Limit"], write.headers["RateLimit-Remaining"]) == ("3", "2")
    anonymous = client.get(f"{API}/challenges", environ_base=address())
    assert anonymous.headers["RateLimit-Limit"] == "5"
    assert anonymous.headers["RateLimit-Remaining"] == "4"  # counted by address
    assert "RateLimit-Limit" not in client.get("/").headers  # pages: no API limit


def test_api_writes_are_limited_per_user(app, client, limits):
    limits["API_WRITE_RATE_LIMIT"] = "3 per minute"
    with app.app_context():
        mine, theirs = bearer(UserFactory()), bearer(UserFactory())
    statuses = [
        client.post(f"{API}/notifications/read", headers=mine).status_code for _ in range(4)
    ]
    assert statuses == [204, 204, 204, 429]
    refused = client.post(f"{API}/notifications/read", headers=mine)
    assert refused.status_code == 429 and refused.json["title"] == "Too Many Requests"
    assert "Too many API changes" in refused.json["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get(f"{API}/me", headers=mine).status_code == 200  # reads go on
    assert client.post(f"{API}/notifications/read", headers=theirs).status_code == 204


def test_export_requests_are_limited_per_user(app, client, auth, limits):
    limits["EXPORT_RATE_LIMIT"] = "2 per hour"
    with app.app_context():
        user = UserFactory()
        headers, email = bearer(user), user.email
    statuses = [client.get(f"{API}/me/earnings.csv", headers=headers).status_code for _ in "ab"]
    assert statuses == [200, 200]
    refused = client.get(f"{API}/me/earnings.csv", headers=headers)
    assert refused.status_code == 429 and "export" in refused.json["detail"]
    auth.login(email)  # the same user through the page: the same count
    assert client.get("/me/earnings.csv").status_code == 429
    with app.app_context():
        other = bearer(UserFactory())
    assert client.get(f"{API}/me/earnings.csv", headers=other).status_code == 200
