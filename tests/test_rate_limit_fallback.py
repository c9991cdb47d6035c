"""Rate limits survive Redis: with the limiter's Redis gone, the login limit is counted in
memory, and sign-in answers as usual (never a 500)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from marketplace import create_app
from marketplace.extensions import db, limiter
from tests.conftest import test_config
from tests.local_servers import OwnRedis

BAD_LOGIN = {"email": "nobody@example.com", "password": "wrong password!"}


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis().start()
    yield server
    server.stop()


@pytest.fixture
def limited_app(database, base_app: Flask, own_redis: OwnRedis) -> Iterator[Flask]:
    """An app whose login limit (3 a minute) is kept in a Redis that the test may stop.

    Flask-Limiter keeps its storage on the one global Limiter; afterwards it is pointed back
    at the suite's in-memory storage.
    """
    app = create_app(
        test_config(
            database.url,
            REDIS_URL=own_redis.url,
            RATELIMIT_STORAGE_URI=own_redis.url,
            LOGIN_RATE_LIMIT="3 per minute",
            QUEUE_PREFIX=f"test-{uuid.uuid4().hex[:8]}:",
        )
    )
    yield app
    with app.app_context():
        db.engine.dispose()
    limiter.init_app(base_app)


def test_login_limit_falls_back_to_memory_when_redis_stops(limited_app, own_redis) -> None:
    client = limited_app.test_client()
    assert client.post("/login", data=BAD_LOGIN).status_code == 422
    assert redis.Redis.from_url(own_redis.url).keys("*accounts.login*")  # counted in Redis

    own_redis.stop()
    statuses = [client.post("/login", data=BAD_LOGIN).status_code for _ in range(4)]

    # Memory counts afresh from the fall-back: three attempts, then the limit.
    assert statuses == [422, 422, 422, 429]
    assert client.get("/login").status_code == 200  # pages are not limited
