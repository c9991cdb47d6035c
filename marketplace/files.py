"""Files written for a command live and die with its transaction.

``write_new_file`` writes an upload's bytes (after the command validated them) and records the
path on the session: if the transaction ends without committing (a domain error, a database
error, the commit itself failing), the file is removed, so a failed upload leaves no orphan.
``remove_after_commit`` deletes a file the command made obsolete, but only once the change is
durable. A folder that is full, read-only or not writable is bad news for the user, not a 500:
it becomes ``Invalid`` with a message on the upload's field.
"""

from __future__ import annotations

import errno
import logging
import os

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from marketplace.db import after_commit
from marketplace.errors import Invalid
from marketplace.extensions import db

log = logging.getLogger(__name__)
_WRITTEN = "files_written_in_transaction"
#: Errors of the folder, not of the request: the disk is full, read-only or not ours.
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def write_bytes(path: str, data: bytes) -> None:
    """The OS edge: create ``path`` (never overwriting) and write ``data`` to it."""
    with open(path, "xb") as out:
        out.write(data)


def write_new_file(folder: str, name: str, data: bytes, *, field: str) -> str:
    """Write ``data`` to a new file ``folder/name`` that is kept only if the current
    transaction commits; returns its path. A storage failure is an ``Invalid`` on ``field``."""
    path = os.path.join(folder, name)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        if error.errno not in STORAGE_ERRORS:
            raise
        raise _storage_failure(folder, error, field) from error
    try:
        write_bytes(path, data)
    except FileExistsError:  # nothing of ours was written: leave the other file alone
        raise
    except OSError as error:
        _remove(path, quiet=True)  # a partly written file
        if error.errno not in STORAGE_ERRORS:
            raise
        raise _storage_failure(path, error, field) from error
    db.session().info.setdefault(_WRITTEN, []).append(path)
    return path


def _storage_failure(where: str, error: OSError, field: str) -> Invalid:
    log.error("cannot store %s: %s", where, error)
    return Invalid(
        "The file could not be stored.",
        {field: ["The server cannot store files right now (its storage is full or read-only). "
                 "Nothing was saved; please try again later."]},
    )  # fmt: skip


def remove_after_commit(path: str) -> None:
    """Delete ``path`` once the current transaction has committed (never if it rolls back)."""
    after_commit(f"remove-file:{path}", lambda: _remove(path))


def _remove(path: str, quiet: bool = False) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError:
        if not quiet:
            log.warning("could not remove %s", path, exc_info=True)


@event.listens_for(Session, "after_commit")
def _keep_written_files(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release is not the commit
        session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _discard_uncommitted_files(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        for path in session.info.pop(_WRITTEN, []):
            _remove(path)
