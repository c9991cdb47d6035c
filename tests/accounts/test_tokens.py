"""API tokens: the last use is written at most once a minute per token, in a short transaction
of its own, and an API read with a recently used token writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ledger import utcnow
from marketplace.accounts import tokens
from marketplace.accounts.models import ApiToken
from marketplace.db import transaction
from marketplace.errors import NotFound
from marketplace.extensions import db
from tests.factories import UserFactory
from tests.sql_writes import writes_during


@pytest.fixture
def token(app) -> tuple[int, str]:
    """A fresh token of a new user: its id and secret."""
    with app.app_context():
        created, secret = tokens.create_token(UserFactory(), "laptop")
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
