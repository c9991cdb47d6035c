"""SQLite settings the ledger relies on: foreign keys on, real transactions and savepoints."""

from __future__ import annotations

from sqlalchemy import Engine, event


def configure_sqlite_engine(engine: Engine) -> None:
    """Turn on foreign keys and let SQLAlchemy, not pysqlite, emit BEGIN.

    pysqlite's own transaction handling breaks SAVEPOINT and defers BEGIN; the fix is the one
    in SQLAlchemy's docs ("Serializable isolation / Savepoints / Transactional DDL").
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN")
