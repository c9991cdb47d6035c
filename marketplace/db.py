"""The unit of work: one command, one database transaction, opened and committed here only.

The outermost ``transaction()`` (or ``@command``) commits; services it calls join it; any
exception, a domain error included, rolls back everything the command wrote. Work that must
happen only once the change is durable (handing jobs to rq, running them inline) is
registered with ``after_commit`` and runs after the commit, never inside the transaction and
never after a rollback. This is the only module in ``marketplace`` that commits.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response
from sqlalchemy.orm import Session
from werkzeug.exceptions import InternalServerError

from marketplace.errors import handle_http_exception
from marketplace.extensions import db
from marketplace.sqlite import begin_write

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

_DEPTH = "unit_of_work_depth"
_AFTER = "unit_of_work_after_commit"
_COLLECTED = "unit_of_work_collected"
_AFTER_END = "unit_of_work_after_end"


@contextmanager
def transaction() -> Iterator[Session]:
    """Run the block in the current command's transaction, or open (and commit) one."""
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    if depth:
        try:
            yield session
        finally:
            session.info[_DEPTH] = depth
        return
    try:
        begin_write(session)  # SQLite: take the write lock now (see marketplace/sqlite.py)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop(_AFTER, None)
        session.info.pop(_COLLECTED, None)
        session.info[_DEPTH] = 0
        _run_after_end(session)
        raise
    finally:
        session.info[_DEPTH] = 0
    _run_after_commit(session)
    _run_after_end(session)


def command(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a service command: it runs in one transaction (or joins its caller's)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction():
            return function(*args, **kwargs)

    return run


def in_transaction() -> bool:
    return bool(db.session().info.get(_DEPTH))


def after_commit(key: str, callback: Callable[[], Any]) -> None:
    """Run ``callback`` once the current transaction commits (once per ``key``).

    Outside a command the callback waits for the next commit that ``transaction()`` makes.
    """
    db.session().info.setdefault(_AFTER, {}).setdefault(key, callback)


def collect_after_commit(key: str, item: Any, callback: Callable[[list[Any]], Any]) -> None:
    """Add ``item`` to a list that ``callback`` receives once the current transaction
    commits (one call per ``key`` and commit); a rollback drops the list."""
    session = db.session()
    session.info.setdefault(_COLLECTED, {}).setdefault(key, []).append(item)
    after_commit(key, lambda: callback(session.info.get(_COLLECTED, {}).pop(key, [])))


def after_end(callback: Callable[[], Any]) -> None:
    """Run ``callback`` once the current transaction ends, committed or rolled back (at once
    when none is open). For records that must outlive a rollback, such as the audit log's
    refusals; the callback may open a short transaction of its own."""
    if not in_transaction():
        callback()
        return
    db.session().info.setdefault(_AFTER_END, []).append(callback)


def _run_after_end(session: Session) -> None:
    for callback in session.info.pop(_AFTER_END, []):
        try:
            callback()
        except Exception:  # never hide the command's own outcome (or error) behind this one
            log.exception("after-end work failed")


def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_AFTER, {})
    for key, callback in callbacks.items():
        try:
            callback()
        except Exception:  # the change is committed; what failed here is retried later
            log.exception("after-commit work %s failed; the relay will retry it", key)


def handle_server_error(error: InternalServerError) -> Response | tuple[str, int]:
    """An unexpected failure: undo the request's half-done work before rendering anything
    (a failed flush leaves the session unusable until it is rolled back)."""
    db.session.rollback()
    return handle_http_exception(error)


def register_rollback_on_error(app: Flask) -> None:
    app.register_error_handler(InternalServerError, handle_server_error)
