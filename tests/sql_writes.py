"""The SQL statements a block of code runs: proof that a read stays a read, and that a page's
statement count does not grow with the rows it shows."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from flask import Flask
from sqlalchemy import event

from marketplace.extensions import db

WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
EVERY = re.compile("")


@contextlib.contextmanager
def _statements_matching(app: Flask, pattern: re.Pattern) -> Iterator[list[str]]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many) -> None:  # noqa: ANN001
        if pattern.match(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def writes_during(app: Flask) -> contextlib.AbstractContextManager[list[str]]:
    """Yields a list that collects every INSERT, UPDATE or DELETE run inside the block."""
    return _statements_matching(app, WRITES)


def statements_during(app: Flask) -> contextlib.AbstractContextManager[list[str]]:
    """Yields a list that collects every SQL statement run inside the block (reads too).

    A page whose count grows with the rows it shows loads something per row (N+1): tests
    compare the count at 5 and at 50 rows.
    """
    return _statements_matching(app, EVERY)
