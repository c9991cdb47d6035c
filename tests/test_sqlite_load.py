"""The embedded default under load: SQLite in WAL mode with a busy timeout, commands that take
the write lock when they start, and page views and token use that do not write on every GET.

The load test runs a real threaded HTTP server on a database file (and, for comparison, on
PostgreSQL): 8 clients read need pages, read and write through the API for 20 seconds, and no
answer is a 5xx.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from marketplace import create_app
from marketplace.accounts.models import OrgRole, User
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge
from marketplace.db import transaction
from marketplace.dialogue.models import Clarification
from marketplace.extensions import db
from marketplace.insight.visits import HOUR_SECONDS
from marketplace.payments.services import start_funding
from marketplace.sqlite import BUSY_TIMEOUT_MS
from tests.conftest import migrated_database, test_config
from tests.factories import MembershipFactory, UserFactory, make_need, make_terms, make_token

CLIENTS = 8
SECONDS = 20
OPEN_NEEDS = 3


@pytest.fixture
def file_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a migrated SQLite file, its sessions bound to the engine as in production."""
    with migrated_database("sqlite", tmp_path) as database:
        app = create_app(test_config(database.url))
        yield app
        with app.app_context():
            db.engine.dispose()


def pragma(connection: sa.Connection, name: str) -> object:
    return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_a_file_database_runs_in_wal_mode_with_a_busy_timeout(file_app) -> None:
    with file_app.app_context(), db.engine.connect() as first, db.engine.connect() as second:
        for connection in (first, second):
            assert pragma(connection, "journal_mode") == "wal"
            assert pragma(connection, "busy_timeout") == BUSY_TIMEOUT_MS


def test_an_in_memory_database_is_left_as_it_is() -> None:
    app = create_app(test_config("sqlite://"))
    with app.app_context(), db.engine.connect() as connection:
        assert pragma(connection, "journal_mode") == "memory"


def test_a_command_after_reads_waits_for_other_writers_instead_of_failing(file_app) -> None:
    """SQLite refuses at once to turn a transaction that has read into a writing one once
    another connection has written since; a command starts a writing transaction instead."""
    with file_app.app_context():
        user_id = UserFactory(name="Before").id
        other = db.engine.connect()
        try:
            assert db.session.get_one(User, user_id).name == "Before"  # the session reads
            other.exec_driver_sql("UPDATE users SET name = 'Other' WHERE id = ?", (user_id,))
            other.commit()
            other.exec_driver_sql("UPDATE users SET name = 'Holder' WHERE id = ?", (user_id,))
            release = threading.Timer(0.3, other.commit)  # holds the write lock meanwhile
            release.start()
            with transaction():
                db.session.execute(
                    sa.text("UPDATE users SET name = 'Command' WHERE id = :id"), {"id": user_id}
                )
            release.join()
        finally:
            other.close()
        name = db.session.scalar(sa.text("SELECT name FROM users WHERE id = :id"), {"id": user_id})
        assert name == "Command"  # written after the holder committed, not refused


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *_args: object) -> None:
        """Not a line per request: the test prints its own summary."""


@dataclass
class Site:
    app: Flask
    url: str
    need_ids: list[int]
    bearer: dict[str, str]


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """A threaded HTTP server on a fresh database with open needs and a solver's API token."""
    with migrated_database(request.param, tmp_path) as database:
        app = create_app(test_config(database.url))
        with app.app_context(), app.test_request_context():
            manager = MembershipFactory(role=OrgRole.MANAGER, user__second_factor=True).user
            need_ids = []
            for number in range(OPEN_NEEDS):
                challenge = needs.create_challenge(
                    manager, manager.memberships[0].organization,
                    make_need(title=f"Open need number {number}"), make_terms(),
                )  # fmt: skip
                start_funding(manager, challenge)
                needs.open_challenge(manager, challenge)
                need_ids.append(challenge.id)
            _token, secret = make_token(UserFactory(), "load test")
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            bearer = {"Authorization": f"Bearer {secret}"}
            yield Site(app, f"http://127.0.0.1:{server.port}", need_ids, bearer)
        finally:
            server.shutdown()
            thread.join()
            with app.app_context():
                db.engine.dispose()


@dataclass
class Tally:
    statuses: Counter
    asked: int  # clarifications the API answered 201 for
    visitors: set[tuple[int, str]]  # (need, browser) pairs whose page answered 200


def client_loop(site: Site, number: int, deadline: float, tally: Tally, lock: threading.Lock):
    """One client: need pages (sometimes as a new visitor), API reads, and API writes."""
    session = requests.Session()
    statuses: Counter = Counter()
    asked, visitors = 0, set()
    for turn in itertools.count():
        if time.monotonic() > deadline:
            break
        need = site.need_ids[turn % len(site.need_ids)]
        browser = f"client-{number}" if turn % 10 else f"client-{number}-visit-{turn}"
        kind = turn % 4
        if kind == 0:
            response = session.get(f"{site.url}/challenges/{need}", headers={"User-Agent": browser})
            if response.status_code == 200:
                visitors.add((need, browser))
        elif kind == 1:
            response = session.get(f"{site.url}/api/v1/challenges/{need}", headers=site.bearer)
        elif kind == 2:
            response = session.get(f"{site.url}/api/v1/me", headers=site.bearer)
        else:
            response = session.post(
                f"{site.url}/api/v1/challenges/{need}/clarifications",
                json={"question": f"Client {number}, question {turn}: what pH range?"},
                headers=site.bearer,
            )
            asked += response.status_code == 201
        statuses[response.status_code] += 1
    with lock:
        tally.statuses.update(statuses)
        tally.asked += asked
        tally.visitors |= visitors


def test_eight_clients_for_twenty_seconds_get_no_server_error(site: Site) -> None:
    tally, lock = Tally(Counter(), 0, set()), threading.Lock()
    first_hour = int(time.time()) // HOUR_SECONDS
    deadline = time.monotonic() + SECONDS
    clients = [
        threading.Thread(target=client_loop, args=(site, number, deadline, tally, lock))
        for number in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    same_hour = int(time.time()) // HOUR_SECONDS == first_hour

    total = sum(tally.statuses.values())
    print(f"\n{total} requests in {SECONDS} s from {CLIENTS} clients: {dict(tally.statuses)}")
    assert not [status for status in tally.statuses if status >= 500], tally.statuses
    assert sum(n for status, n in tally.statuses.items() if 200 <= status < 300) >= 100
    assert tally.asked > 0
    with site.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Clarification)) == tally.asked
        counted = db.session.scalar(select(func.sum(Challenge.view_count)))
    if same_hour:  # each visitor once per need and hour
        assert counted == len(tally.visitors)
    else:
        assert counted >= len(tally.visitors)
