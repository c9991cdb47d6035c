"""`flask db upgrade` on an empty database gives exactly the schema the models describe."""

from __future__ import annotations

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marketplace import create_app
from marketplace.extensions import db, include_object
from tests.conftest import MIGRATIONS, migrated_database, test_config


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_from_empty_matches_the_models(kind, tmp_path) -> None:
    with migrated_database(kind, tmp_path) as fresh:
        app = create_app(test_config(fresh.url))
        with app.app_context(), db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": include_object}
            )
            assert compare_metadata(context, db.metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
            assert {"users", "organizations", "memberships", "ledger_accounts",
                    "ledger_journals", "ledger_transfers"} <= tables  # fmt: skip
        with app.app_context():
            flask_migrate.downgrade(directory=MIGRATIONS, revision="base")
            with db.engine.connect() as connection:
                assert sa.inspect(connection).get_table_names() == ["alembic_version"]
            flask_migrate.upgrade(directory=MIGRATIONS)
            db.engine.dispose()
