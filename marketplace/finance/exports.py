"""Downloads of the whole book for accountants: CSV and an hledger journal.

A platform finance user requests an export: a BookExport row is committed, then the job
``marketplace.jobs.export_book_job`` writes the file under EXPORT_FOLDER (a shared volume in
production: the worker writes it, the site serves it), counting the rows written as it goes.
Without Redis the job runs inline, so the export is done when the request returns.
"""

from __future__ import annotations

import errno
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select

import ledger
from ledger import Transfer, utcnow
from marketplace.accounts.models import User
from marketplace.accounts.services import require_platform_finance
from marketplace.audit.log import record, refusals_recorded
from marketplace.db import command, transaction
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance.journal import day_end, day_start
from marketplace.finance.models import BookExport, ExportFormat, ExportStatus
from marketplace.outbox import JobQueue
from marketplace.queue import enqueue

FORMATS = {
    ExportFormat.CSV: (ledger.export_csv, "text/csv", "csv"),
    ExportFormat.HLEDGER: (ledger.export_hledger, "text/plain", "journal"),
}

#: A worker may take this long on one export before rq stops it (seconds).
JOB_TIMEOUT = 3600
LISTED = 50
PERIOD = "Choose the days to export: from a day to a day, or leave them empty for all."


@dataclass(frozen=True)
class ExportFile:
    path: str
    mimetype: str
    download_name: str


def _folder() -> str:
    return current_app.config["EXPORT_FOLDER"]


@refusals_recorded("book_export.request")
@command
def request_export(
    actor: User, format: str, start: date | None = None, end: date | None = None
) -> BookExport:
    """Commit a queued export of every transfer, or of those effective from ``start`` to
    ``end`` (UTC days, both included), then enqueue the job that writes it."""
    require_platform_finance(actor)
    if format not in FORMATS:
        raise Invalid(
            "Choose an export format.",
            {"format": [f"Must be one of: {', '.join(FORMATS)}."]},
        )
    if start is not None and end is not None and start > end:
        raise Invalid(PERIOD, {"start": ["The first day must be on or before the last."]})
    export = BookExport(
        format=format,
        requested_by_id=actor.id,
        status=ExportStatus.QUEUED,
        start=start,
        end=end,
        total=db.session.scalar(
            select(func.count()).select_from(Transfer).where(*_period(start, end))
        )
        or 0,
    )
    db.session.add(export)
    db.session.flush()
    record("book_export.request", obj=export, actor=actor, details={"format": format})
    enqueue("export_book_job", export.id, queue=JobQueue.EXPORTS, timeout=JOB_TIMEOUT)
    return export


def _period(start: date | None, end: date | None) -> list:
    conditions = []
    if start is not None:
        conditions.append(Transfer.effective_at >= day_start(start))
    if end is not None:
        conditions.append(Transfer.effective_at <= day_end(end))
    return conditions


def _bounds(export: BookExport) -> dict[str, datetime | None]:
    return {
        "start": day_start(export.start) if export.start else None,
        "end": day_end(export.end) if export.end else None,
    }


def list_exports(actor: User, limit: int = LISTED) -> list[BookExport]:
    """The latest exports, newest first (platform finance staff)."""
    require_platform_finance(actor)
    newest_first = select(BookExport).order_by(BookExport.id.desc()).limit(limit)
    return list(db.session.scalars(newest_first))


def get_export(actor: User, export_id: int) -> BookExport:
    require_platform_finance(actor)
    export = db.session.get(BookExport, export_id)
    if export is None:
        raise NotFound("No such export.")
    return export


def in_progress(exports: list[BookExport]) -> bool:
    return any(e.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for e in exports)


def progress_of(export: BookExport) -> dict[str, Any]:
    return {"export_id": export.id, "status": export.status, "rows": export.rows,
            "total": export.total, "error": export.error}  # fmt: skip


def download_name(export: BookExport) -> str:
    stamp = (export.finished_at or export.created_at).strftime("%Y%m%d-%H%M%S")
    if export.start or export.end:
        first = export.start.isoformat() if export.start else "start"
        last = export.end.isoformat() if export.end else "now"
        stamp = f"{first}-to-{last}-{stamp}"
    return f"book-{export.id}-{stamp}.{FORMATS[ExportFormat(export.format)][2]}"


@refusals_recorded("book_export.download", object_arg="export_id")
def export_file(actor: User, export_id: int) -> ExportFile:
    """Where a finished export's file is (Conflict before it is done, NotFound if it is gone)."""
    export = get_export(actor, export_id)
    if export.status != ExportStatus.DONE or not export.file_name:
        raise Conflict(f"Export {export.id} is {export.status}: there is no file to download.")
    path = os.path.join(_folder(), export.file_name)
    if not os.path.isfile(path):
        raise NotFound(f"The file of export {export.id} is no longer there.")
    record("book_export.download", obj=export, actor=actor)
    return ExportFile(path, FORMATS[ExportFormat(export.format)][1], download_name(export))


def run_export(export_id: int) -> dict[str, Any]:
    """The job's work: write the file, recording the rows written every 1,000 transfers.

    Marks the export done, or failed with the error (never left running, and no half-written
    file left behind); an export that is done already is not written again.
    """
    with transaction():
        export = db.session.get(BookExport, export_id)
        if export is None or export.status == ExportStatus.DONE:
            return {"export_id": export_id, "status": export.status if export else None}
        write, _, extension = FORMATS[ExportFormat(export.format)]
        file_name = f"{secrets.token_hex(16)}.{extension}"
        export.status, export.started_at, export.rows = ExportStatus.RUNNING, utcnow(), 0
        export.error, export.finished_at, export.file_name = "", None, None
    path = ""

    def progress(rows: int) -> None:
        with transaction():
            export.rows = rows

    try:
        folder = _folder()
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, file_name)
        with open(path, "x", encoding="utf-8", newline="") as out:
            rows = write(db.session, out, progress=progress, **_bounds(export))
        with transaction():
            export.rows, export.file_name = rows, file_name
            export.status, export.finished_at = ExportStatus.DONE, utcnow()
    except Exception as error:  # recorded on the export; the job itself does not fail
        db.session.rollback()
        if path and os.path.exists(path):
            os.remove(path)
        with transaction():
            export = db.session.get(BookExport, export_id)
            export.status, export.finished_at = ExportStatus.FAILED, utcnow()
            export.error = _reason(error)
        current_app.logger.exception("Book export %s failed", export_id)
    return progress_of(export)


def _reason(error: Exception) -> str:
    """What finance staff read on the export: a full disk or a read-only folder in words."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "The export folder is full: free some space, then request the export again."
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return "The export folder cannot be written to: check its permissions."
    return f"{type(error).__name__}: {error}"[:2000]
