"""Book exports: requested by platform finance staff, written by a job (inline without Redis,
in a real `rq worker` with it), followed by their progress, downloaded once done."""

from __future__ import annotations

import errno
import io
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

import ledger
from marketplace import create_app
from marketplace.extensions import db
from marketplace.finance import exports
from marketplace.finance.models import BookExport
from tests.challenges.conftest import user
from tests.challenges.test_api import bearer, token_for
from tests.conftest import migrated_database, need_service, test_config
from tests.factories import UserFactory
from tests.test_jobs import fund_escrow, run_worker

PAGE = "/finance/exports"
API = "/api/v1/finance/exports"


@pytest.fixture
def folder(app, tmp_path, monkeypatch) -> Path:
    """EXPORT_FOLDER under the test's tmp_path (the app is shared by the session's tests)."""
    path = tmp_path / "exports"
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(path))
    return path


def book_as(app, export) -> str:
    with app.app_context():
        out = io.StringIO()
        export(db.session, out)
        return out.getvalue()


def the_export(app, export_id: int) -> BookExport:
    with app.app_context():
        export = db.session.get(BookExport, export_id)
        db.session.expunge(export)
        return export


def latest_id(app) -> int | None:
    with app.app_context():
        return db.session.scalar(select(func.max(BookExport.id)))


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(BookExport.id)))


def test_staff_export_csv_on_the_page_and_download_it(app, client, auth, book, folder) -> None:
    auth.login(book.staff)
    assert 'data-test="exports-link"' in client.get("/finance/").get_data(as_text=True)
    answer = client.post(PAGE, data={"format": "csv"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(PAGE)
    export_id = latest_id(app)
    export = the_export(app, export_id)  # no Redis: the job ran inline
    assert (export.status, export.format, export.rows, export.total) == ("done", "csv", 5, 5)
    assert export.started_at and export.finished_at and export.error == ""
    assert (folder / export.file_name).is_file() and len(export.file_name) > 30
    page = client.get(PAGE).get_data(as_text=True)
    assert f'data-test="download-{export_id}"' in page and "5 / 5" in page
    assert "is ready: 5 rows written" in page
    assert 'data-test="poll"' not in page  # nothing runs: no polling
    download = client.get(f"{PAGE}/{export_id}/download")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert f"book-{export_id}-" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.get_data(as_text=True) == book_as(app, ledger.export_csv)


def test_staff_export_hledger_through_the_api(app, client, book, folder) -> None:
    staff = bearer(token_for(app, book.staff))
    created = client.post(API, json={"format": "hledger"}, headers=staff)
    assert created.status_code == 202, created.json
    body = created.json
    assert (body["status"], body["format"], body["rows"], body["total"]) == (
        "done", "hledger", 5, 5,
    )  # fmt: skip
    assert body["requested_by"]["email"] == book.staff and body["error"] == ""
    assert body["file_url"] == f"{API}/{body['id']}/file"
    assert client.get(f"{API}/{body['id']}", headers=staff).json["status"] == "done"
    assert [e["id"] for e in client.get(API, headers=staff).json] == [body["id"]]
    download = client.get(body["file_url"], headers=staff)
    assert download.status_code == 200 and download.mimetype == "text/plain"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in download.headers["Content-Disposition"]
    journal = download.get_data(as_text=True)
    assert journal == book_as(app, ledger.export_hledger) and journal.count(" * ") == 5


def test_progress_counts_the_rows_as_they_are_committed(app, book, folder, monkeypatch) -> None:
    heard: list[tuple[str, int]] = []

    def every_two(session, out, *, progress, start, end):
        def report(rows: int) -> None:
            progress(rows)  # commits the rows written
            export = session.scalar(select(BookExport).order_by(BookExport.id.desc()))
            heard.append((export.status, export.rows))

        return ledger.export_csv(session, out, progress=report, every=2, start=start, end=end)

    monkeypatch.setitem(exports.FORMATS, "csv", (every_two, "text/csv", "csv"))
    with app.app_context():
        export = exports.request_export(user(book.staff), "csv")
        assert (export.status, export.rows, export.total) == ("done", 5, 5)
    assert heard == [("running", 2), ("running", 4), ("running", 5)]


def test_a_queued_export_has_no_file_yet_and_the_page_polls(app, client, auth, book) -> None:
    with app.app_context():
        export = BookExport(format="csv", requested_by_id=user(book.staff).id, total=5)
        db.session.add(export)
        db.session.commit()
        export_id = export.id
    staff = bearer(token_for(app, book.staff))
    shown = client.get(f"{API}/{export_id}", headers=staff).json
    assert (shown["status"], shown["rows"], shown["total"], shown["file_url"]) == (
        "queued", 0, 5, None,
    )  # fmt: skip
    early = client.get(f"{API}/{export_id}/file", headers=staff)
    assert early.status_code == 409 and early.json["status"] == 409
    auth.login(book.staff)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'data-test="poll"' in page and "setTimeout(poll, 2000)" in page
    assert f'data-test="download-{export_id}"' not in page
    assert client.get(f"{PAGE}/{export_id}/download").status_code == 409


def test_a_failed_export_is_marked_failed_with_its_error(
    app, client, auth, book, tmp_path, monkeypatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the exports folder should be")
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(blocker))
    auth.login(book.staff)
    client.post(PAGE, data={"format": "hledger"})
    export = the_export(app, latest_id(app))
    assert export.status == "failed" and export.finished_at is not None
    assert "FileExistsError" in export.error or "NotADirectoryError" in export.error
    assert export.file_name is None and export.rows == 0
    page = client.get(PAGE).get_data(as_text=True)
    assert f"Export {export.id} failed" in page and 'data-test="poll"' not in page
    assert client.get(f"{PAGE}/{export.id}/download").status_code == 409
    staff = bearer(token_for(app, book.staff))
    assert client.get(f"{API}/{export.id}/file", headers=staff).status_code == 409
    assert client.get(f"{API}/{export.id}", headers=staff).json["error"] == export.error


def test_writing_fails_midway_leaves_no_file(app, book, folder, monkeypatch) -> None:
    def broken(session, out, *, progress, **period):
        out.write("half a book")
        raise RuntimeError("the disk is full")

    monkeypatch.setitem(exports.FORMATS, "csv", (broken, "text/csv", "csv"))
    with app.app_context():
        export = exports.request_export(user(book.staff), "csv")
        assert (export.status, export.error) == ("failed", "RuntimeError: the disk is full")
    assert list(folder.iterdir()) == []


def test_unknown_formats_are_refused(app, client, auth, book, folder) -> None:
    auth.login(book.staff)
    answer = client.post(PAGE, data={"format": "pdf"}, follow_redirects=True)
    assert "Must be one of: csv, hledger." in answer.get_data(as_text=True)
    refused = client.post(API, json={"format": "pdf"}, headers=bearer(token_for(app, book.staff)))
    assert refused.status_code == 422 and "format" in refused.json["errors"]
    assert count(app) == 0


@pytest.mark.parametrize("who", ["solver", "finance"])
def test_others_are_refused_exports(app, client, auth, book, folder, who) -> None:
    """A solver, and even an organization's own finance member, get 403 everywhere."""
    with app.app_context():
        export_id = exports.request_export(user(book.staff), "csv").id
    email = book.people.solver if who == "solver" else book.people.finance
    auth.login(email)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data={"format": "csv"}).status_code == 403
    assert client.get(f"{PAGE}/{export_id}/download").status_code == 403
    key = bearer(token_for(app, email))
    for path in (API, f"{API}/{export_id}", f"{API}/{export_id}/file"):
        answer = client.get(path, headers=key)
        assert answer.status_code == 403 and answer.json["status"] == 403, path
    assert client.post(API, json={"format": "csv"}, headers=key).status_code == 403
    assert count(app) == 1


def test_unknown_exports_are_404(app, client, auth, book, folder) -> None:
    auth.login(book.staff)
    assert client.get(f"{PAGE}/999999/download").status_code == 404
    staff = bearer(token_for(app, book.staff))
    for path in (f"{API}/999999", f"{API}/999999/file", f"{API}/99999999999999999999/file"):
        assert client.get(path, headers=staff).status_code == 404, path


def test_anonymous_is_sent_to_sign_in_or_gets_401(client, book) -> None:
    answer = client.get(PAGE)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert client.get(API).status_code == 401
    assert client.post(API, json={"format": "csv"}).status_code == 401


def test_a_real_rq_worker_writes_the_export(database, tmp_path) -> None:
    redis_url = need_service("TEST_REDIS_URL", "the rq worker test")
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    folder = tmp_path / "exports"
    with migrated_database(database.kind, tmp_path) as fresh:
        config = test_config(
            fresh.url, REDIS_URL=redis_url, QUEUE_PREFIX=prefix, EXPORT_FOLDER=str(folder)
        )
        app = create_app(config)
        with app.app_context():
            fund_escrow(7, 1234, "EUR")
            staff = UserFactory(is_platform_finance=True, second_factor=True)
            export = exports.request_export(staff, "csv")
            export_id = export.id
            assert (export.status, export.rows, export.total) == ("queued", 0, 1)
            db.engine.dispose()
        env = {**os.environ, "DATABASE_URL": fresh.url, "REDIS_URL": redis_url,
               "QUEUE_PREFIX": prefix, "SECRET_KEY": "worker-test",
               "EXPORT_FOLDER": str(folder)}  # fmt: skip
        done = run_worker(env)
        assert done.returncode == 0, done.stderr
        with app.app_context():
            export = db.session.get(BookExport, export_id)
            assert (export.status, export.rows, export.error) == ("done", 1, ""), done.stderr
            written = (folder / export.file_name).read_bytes().decode("utf-8")
            out = io.StringIO()
            ledger.export_csv(db.session, out)
            assert written == out.getvalue()
            db.engine.dispose()


def test_a_full_export_folder_fails_the_export_with_a_clear_reason_and_no_file(
    app, client, auth, book, folder, monkeypatch
) -> None:
    """The disk fills up while the file is written: the export says so in words, and no
    half-written file is left behind."""

    def write_until_full(session, out, progress=None, **period):  # noqa: ANN001, ANN202
        out.write("id,amount\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(exports.FORMATS, "csv", (write_until_full, "text/csv", "csv"))
    auth.login(book.staff)
    assert client.post(PAGE, data={"format": "csv"}).status_code == 302
    with app.app_context():
        export = db.session.scalar(select(BookExport).order_by(BookExport.id.desc()))
        assert export.status == "failed"
        assert export.error.startswith("The export folder is full")
    assert list(folder.iterdir()) == []
    assert "The export folder is full" in client.get(PAGE).get_data(as_text=True)
