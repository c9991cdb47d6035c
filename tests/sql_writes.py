"""Which SQL statements that write a block of code runs: proof that a read stays a read."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from flask import Flask
from sqlalchemy import event

from marketplace.extensions import db

WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


@contextlib.contextmanager
def writes_during(app: Flask) -> Iterator[list[str]]:
    """Yields a list that collects every INSERT, UPDATE or DELETE run inside the block."""
    with app.app_context():
        engine = db.engine
    written: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many) -> None:  # noqa: ANN001
        if WRITES.match(statement):
            written.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield written
    finally:
        event.remove(engine, "before_cursor_execute", note)


@contextlib.contextmanager
def statements_during(app: Flask) -> Iterator[list[str]]:
    """Yields a list that collects every SQL statement run inside the block (reads too).

    A page whose count grows with the rows it shows loads something per row (N+1): tests
    compare the count at 5 and at 50 rows.
    """
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
