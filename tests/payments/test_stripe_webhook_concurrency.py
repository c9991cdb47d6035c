"""Two deliveries of one event at the same time, on PostgreSQL: the second waits for the
first and then writes nothing; if the first rolls back, the second handles the event.

These requests commit, so they use an app of their own (not the rolled-back ``app``), and
the test removes the rows it made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from marketplace import create_app
from marketplace.config import normalise_database_url
from marketplace.extensions import db
from tests.conftest import test_config
from tests.payments.conftest import WEBHOOK_SECRET, post_event

pytestmark = pytest.mark.postgres_only

EVENT = {
    "id": "evt_concurrent_delivery",
    "object": "event",
    "type": "balance.available",
    "data": {"object": {"object": "balance"}},
}


@pytest.fixture
def committing_app(postgres) -> Iterator[Flask]:
    app = create_app(test_config(postgres.url, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET))
    try:
        yield app
    finally:
        with app.app_context():
            db.session.execute(sa.text("DELETE FROM stripe_events WHERE id = :id"), EVENT)
            db.session.commit()
            db.engine.dispose()


@pytest.fixture
def other_connection(postgres) -> Iterator[sa.Connection]:
    engine = sa.create_engine(normalise_database_url(postgres.url))
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def deliver_in_thread(app: Flask) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def deliver() -> None:
        answer = post_event(app.test_client(), EVENT)
        result.update(status=answer.status_code, body=answer.json)

    thread = threading.Thread(target=deliver)
    thread.start()
    return thread, result


def rows(connection: sa.Connection) -> int:
    query = sa.text("SELECT count(*) FROM stripe_events WHERE id = :id")
    return connection.execute(query, EVENT).scalar_one()


@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-rolls-back"])
def test_a_concurrent_replay_waits_and_writes_nothing(
    committing_app, other_connection, first_commits
):
    # The "first delivery": its transaction has inserted the event and not committed yet.
    first = other_connection.begin()
    other_connection.execute(
        sa.text("INSERT INTO stripe_events (id, type, received_at) VALUES (:id, :type, now())"),
        EVENT,
    )
    thread, result = deliver_in_thread(committing_app)
    time.sleep(0.5)
    assert thread.is_alive(), "the second delivery should wait for the first transaction"
    first.commit() if first_commits else first.rollback()
    thread.join(timeout=10)
    assert not thread.is_alive()

    assert result["status"] == 200
    assert result["body"] == {"received": True, "replayed": first_commits}
    assert rows(other_connection) == 1
