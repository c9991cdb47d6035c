"""SQLite as the embedded default's database: readers that never wait, writers that queue.

``ledger.configure_sqlite_engine`` turns on foreign keys and real transactions. On top of that:

- A file database runs in WAL mode (set once; the mode is stored in the file), so readers keep
  reading while one connection writes.
- Every connection waits up to ``BUSY_TIMEOUT_MS`` for the write lock instead of failing at
  once with "database is locked".
- A command takes the write lock when it starts. SQLite cannot upgrade a transaction that has
  read into one that writes while another connection writes, or has written since the read
  began: it answers "database is locked" at once and the busy timeout never applies. A request
  reads (who is signed in, the page's rows) before it calls its command, so the outermost
  ``transaction()`` ends that read-only transaction and begins ``BEGIN IMMEDIATE``, which waits
  its turn. Rows the request loaded before the command are then as current as they would be
  under PostgreSQL's READ COMMITTED; everything the command reads is current and no other
  writer runs until it commits. Reads outside commands keep their plain deferred BEGIN and
  take no lock.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

#: How long a connection waits for the write lock before giving up (milliseconds).
BUSY_TIMEOUT_MS = 15_000

_WROTE = "sqlite_transaction_wrote"
_IMMEDIATE = "sqlite_transaction_immediate"
_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.I)


def is_file_database(engine: Engine) -> bool:
    """A SQLite database in a file (not ``:memory:`` nor a shared-memory URI)."""
    url = engine.url
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    return engine.dialect.name == "sqlite" and not in_memory and "mode=memory" not in database


def configure_sqlite_concurrency(engine: Engine) -> None:
    """WAL and the busy timeout for a file database; write-lock tracking for any SQLite.

    Call after ``ledger.configure_sqlite_engine`` (its listeners run first; this busy timeout
    replaces its shorter one).
    """
    if engine.dialect.name != "sqlite":
        return
    if is_file_database(engine):
        event.listen(engine, "first_connect", _use_wal)
        event.listen(engine, "connect", _set_busy_timeout)
    event.listen(engine, "begin", _forget_transaction_state)
    event.listen(engine, "before_cursor_execute", _note_writes)


def begin_write(session: Session) -> None:
    """Make the session's transaction one that holds SQLite's write lock from now on.

    Called by the outermost ``transaction()``. Nothing happens on other databases, in a
    transaction that has written already (it holds the lock), in a savepoint, or when the
    session is bound to a connection whose transaction someone else owns (the test suite's
    rolled-back transaction).
    """
    bind = session.get_bind()
    if isinstance(bind, Connection) or bind.dialect.name != "sqlite":
        return
    if session.get_nested_transaction() is not None:
        return
    connection = session.connection()
    if connection.info.get(_WROTE) or connection.info.get(_IMMEDIATE):
        return
    connection.exec_driver_sql("COMMIT")  # the reads so far; nothing was written
    connection.exec_driver_sql("BEGIN IMMEDIATE")  # waits up to the busy timeout
    connection.info[_IMMEDIATE] = True


def _use_wal(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _set_busy_timeout(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _forget_transaction_state(connection: Connection) -> None:
    connection.info[_WROTE] = False
    connection.info[_IMMEDIATE] = False


def _note_writes(connection, _cursor, statement, _parameters, _context, _many) -> None:  # noqa: ANN001
    if _WRITE_STATEMENT.match(statement):
        connection.info[_WROTE] = True
