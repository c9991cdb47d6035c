"""Test fixtures: every test that uses a database runs on SQLite and on PostgreSQL.

PostgreSQL runs when TEST_DATABASE_URL is set (each test session gets a schema of its own,
migrated with `flask db upgrade` and dropped afterwards); otherwise those tests are skipped
with the reason shown, or fail when REQUIRE_SERVICES=1 (CI). Each test runs in a transaction
that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.orm import Session

from ledger import configure_sqlite_engine
from marketplace import create_app
from marketplace.config import normalise_database_url
from marketplace.extensions import db

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = str(ROOT / "migrations")
PASSWORD = "correct horse battery"


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def need_service(variable: str, what: str) -> str:
    """The service URL from ``variable``; skip (or fail under REQUIRE_SERVICES=1) without it."""
    value = os.environ.get(variable)
    if not value:
        message = f"{variable} is not set: {what} not run"
        if services_required():
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return value


@dataclass(frozen=True)
class TestDatabase:
    __test__ = False
    kind: str
    url: str


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A throw-away schema in the PostgreSQL database; yields a URL whose search_path is it."""
    base_url = normalise_database_url(base_url)
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_config(url: str, **extra: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        # Flask-Limiter keeps its state on the one global Limiter, so every test app leaves it
        # on; tests of the limit itself set a low LOGIN_RATE_LIMIT on an app of their own.
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": "10000 per minute",
        "LOGIN_ACCOUNT_RATE_LIMIT": "10000 per minute",
        "REGISTRATION_RATE_LIMIT": "10000 per minute",
        "PASSWORD_RESET_RATE_LIMIT": "10000 per minute",
        "INVITATION_RATE_LIMIT": "10000 per minute",
        "API_RATE_LIMIT": "100000 per minute",
        "API_WRITE_RATE_LIMIT": "100000 per minute",
        "TOKEN_FAILURE_RATE_LIMIT": "10000 per minute",
        "EXPORT_RATE_LIMIT": "10000 per minute",
        "SECOND_FACTOR_RATE_LIMIT": "10000 per minute",
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        **extra,
    }


test_config.__test__ = False  # a helper, not a test, wherever it is imported


def migrate_to_head(url: str) -> None:
    app = create_app(test_config(url))
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS)
        db.engine.dispose()


@contextlib.contextmanager
def migrated_database(kind: str, tmp_dir: Path) -> Iterator[TestDatabase]:
    """A new, migrated database of the given kind."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_dir / f'{uuid.uuid4().hex[:8]}.db'}"
        migrate_to_head(url)
        yield TestDatabase("sqlite", url)
        return
    base = need_service("TEST_DATABASE_URL", "the PostgreSQL run")
    with postgres_schema(base) as url:
        migrate_to_head(url)
        yield TestDatabase("postgresql", url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[TestDatabase]:
    with migrated_database(request.param, tmp_path_factory.mktemp("db")) as test_database:
        yield test_database


@pytest.fixture
def postgres(database: TestDatabase) -> TestDatabase:
    """Only the PostgreSQL run of a test: database-level rules and concurrency."""
    if database.kind != "postgresql":
        pytest.skip("a PostgreSQL-only rule; the PostgreSQL run checks it")
    return database


@pytest.fixture(scope="session")
def engine(database: TestDatabase) -> Iterator[sa.Engine]:
    engine = sa.create_engine(normalise_database_url(database.url))
    configure_sqlite_engine(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    """A plain SQLAlchemy session (no Flask) whose work is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as test_session:
            yield test_session
        transaction.rollback()


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks an engine itself; in tests it must use our connection."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return self.bind


@pytest.fixture(scope="session")
def base_app(database: TestDatabase) -> Iterator[Flask]:
    app = create_app(test_config(database.url))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(base_app: Flask) -> Iterator[Flask]:
    """The app, with every session of this test joined to one transaction rolled back at the end.

    No app context stays pushed: each request gets its own, as in production (Flask-Login keeps
    the user in ``g``). Wrap direct database work in ``with app.app_context():``.
    """
    with base_app.app_context():
        connection = db.engine.connect()
    transaction = connection.begin()
    original = db.session
    db.session = db._make_scoped_session(
        {
            "bind": connection,
            "join_transaction_mode": "create_savepoint",
            "class_": ConnectionBoundSession,
        }
    )
    try:
        yield base_app
    finally:
        db.session = original  # each app context removed its own session on teardown
        transaction.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


class AuthActions:
    """Sign in and out through the real forms, like flaskr's ``auth`` fixture."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, email: str, password: str = PASSWORD, code: str | None = None):
        """Sign in; a user with a second factor also types a code (``code``, or a fresh one
        of their authenticator). Returns the last answer."""
        answer = self._client.post("/login", data={"email": email, "password": password})
        if answer.status_code == 302 and answer.location.endswith("/login/second-factor"):
            if code is None:
                from tests.second_factors import fresh_code

                with self._client.application.app_context():
                    code = fresh_code(email)
            answer = self._client.post("/login/second-factor", data={"code": code})
        return answer

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
