"""Migration 0020: tokens made before scopes and expiry keep working, but only to read, and for
90 days from the migration."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa

from ledger import UTCDateTime, utcnow
from marketplace import create_app
from marketplace.accounts.scopes import READ_SCOPES
from marketplace.extensions import db
from tests.conftest import MIGRATIONS, need_service, postgres_schema, test_config


@contextlib.contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'before-0020.db'}"
        return
    with postgres_schema(need_service("TEST_DATABASE_URL", "the PostgreSQL run")) as url:
        yield url


def filler(column: dict, n: int) -> object:
    """A value for a required column of a row made by hand at an old revision."""
    kind = column["type"]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.DateTime):
        return utcnow()
    if isinstance(kind, sa.Integer):
        return 0
    return f"x{n}"


def insert_row(connection: sa.Connection, table: str, values: dict, n: int = 1) -> None:
    """Insert ``values``, giving every other required column without a default some value."""
    row = dict(values)
    for column in sa.inspect(connection).get_columns(table):
        name = column["name"]
        if name in row or name == "id" or column["nullable"] or column.get("default"):
            continue
        row[name] = filler(column, n)
    names = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    connection.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), row)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_existing_tokens_get_every_read_scope_and_ninety_days(kind: str, tmp_path: Path) -> None:
    with empty_database(kind, tmp_path) as url:
        app = create_app(test_config(url))
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS, revision="0019")
            with db.engine.begin() as connection:
                insert_row(connection, "users", {"email": "old@example.com", "name": "Old"})
                user_id = connection.scalar(sa.text("SELECT id FROM users"))
                created = sa.bindparam("created", utcnow(), type_=UTCDateTime())
                connection.execute(
                    sa.text(
                        "INSERT INTO api_tokens (user_id, name, prefix, token_sha256, created_at)"
                        " VALUES (:user_id, 'old', 'cct_12345678', :digest, :created)"
                    ).bindparams(created),
                    {"user_id": user_id, "digest": "0" * 64},
                )
            before = utcnow()
            flask_migrate.upgrade(directory=MIGRATIONS, revision="0020")
            with db.engine.connect() as connection:
                scopes, expires_at = connection.execute(
                    sa.select(
                        sa.column("scopes"), sa.column("expires_at", UTCDateTime())
                    ).select_from(sa.table("api_tokens"))
                ).one()
            assert scopes.split() == list(READ_SCOPES)
            assert before + timedelta(days=90) <= expires_at <= utcnow() + timedelta(days=90)
            db.engine.dispose()
