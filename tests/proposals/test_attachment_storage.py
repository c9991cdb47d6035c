"""Attachment files live and die with their transaction: a failed upload (full or read-only
disk, a database error, a refusal later in the same command) leaves no file and no row, and a
removed attachment's file goes only once the removal is committed."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marketplace import files
from marketplace.db import transaction
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.proposals import attachments
from marketplace.proposals.models import Attachment
from tests import sample_files
from tests.challenges.conftest import user
from tests.factories import make_token

PDF = sample_files.pdf()
FULL_OR_READ_ONLY = [errno.ENOSPC, errno.EROFS, errno.EACCES]


@pytest.fixture(autouse=True)
def uploads(app, tmp_path) -> Path:
    previous = app.config["UPLOAD_FOLDER"]
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"] = previous


def stored(folder: Path) -> list[str]:
    proposals = folder / "proposals"
    return sorted(os.listdir(proposals)) if proposals.exists() else []


def rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Attachment.id)))


def fail_half_way(monkeypatch, code: int) -> None:
    """The disk gives out half-way through the file (the OS edge raises, as it would)."""

    def write_half_then_fail(path: str, data: bytes) -> None:
        with open(path, "xb") as out:
            out.write(data[: len(data) // 2])
        raise OSError(code, os.strerror(code), path)

    monkeypatch.setattr(files, "write_bytes", write_half_then_fail)


@pytest.mark.parametrize("code", FULL_OR_READ_ONLY)
def test_a_full_or_read_only_folder_is_a_422_field_error_in_the_api(
    app, client, people, submitted, uploads, monkeypatch, code
):
    with app.app_context():
        headers = {"Authorization": f"Bearer {make_token(user(people.solver))[1]}"}
    fail_half_way(monkeypatch, code)
    response = client.post(
        f"/api/v1/proposals/{submitted.proposal_id}/attachments",
        data={"file": (io.BytesIO(PDF), "plan.pdf")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["detail"] == "The file could not be stored."
    assert "cannot store files right now" in problem["errors"]["file"][0]
    assert (stored(uploads), rows(app)) == ([], 0)


def test_a_full_folder_is_a_clear_message_on_the_page(
    app, client, auth, submitted, uploads, monkeypatch
):
    auth.login(submitted.lead)
    fail_half_way(monkeypatch, errno.ENOSPC)
    response = client.post(
        f"/proposals/{submitted.proposal_id}/attachments",
        data={"file": (io.BytesIO(PDF), "plan.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "cannot store files right now" in response.get_data(as_text=True)
    assert (stored(uploads), rows(app)) == ([], 0)


def test_a_database_error_at_the_commit_removes_the_written_file(
    app, people, submitted, uploads, monkeypatch
):
    """The file is written, then the commit fails (a second row claims its storage name):
    the rollback takes the file with it."""
    real_write = files.write_bytes

    def write_then_claim_the_name_twice(path: str, data: bytes) -> None:
        real_write(path, data)
        db.session.add(
            Attachment(
                proposal_id=submitted.proposal_id, filename="twin.pdf", content_type="x",
                size=1, sha256="0" * 64, storage_name=os.path.basename(path),
            )
        )  # fmt: skip

    monkeypatch.setattr(files, "write_bytes", write_then_claim_the_name_twice)
    with app.app_context(), pytest.raises(IntegrityError):
        attachments.add_attachment(
            user(people.solver), submitted.proposal_id, "plan.pdf", io.BytesIO(PDF)
        )
    assert (stored(uploads), rows(app)) == ([], 0)


def test_an_upload_refused_later_in_the_same_command_leaves_no_file(
    app, people, submitted, uploads
):
    """Joined to a larger command that is refused after the upload, the file goes with the
    rollback of the whole command."""
    with app.app_context(), pytest.raises(Conflict), transaction():
        attachments.add_attachment(
            user(people.solver), submitted.proposal_id, "plan.pdf", io.BytesIO(PDF)
        )
        assert len(stored(uploads)) == 1  # written, not yet committed
        raise Conflict("refused after the upload")
    assert (stored(uploads), rows(app)) == ([], 0)


def test_a_removed_file_goes_only_once_the_removal_is_committed(app, people, submitted, uploads):
    with app.app_context():
        attachment_id = attachments.add_attachment(
            user(people.solver), submitted.proposal_id, "plan.pdf", io.BytesIO(PDF)
        ).id
    assert len(stored(uploads)) == 1
    with app.app_context(), pytest.raises(Conflict), transaction():
        attachments.remove_attachment(user(people.solver), submitted.proposal_id, attachment_id)
        raise Conflict("refused after the removal")
    assert (len(stored(uploads)), rows(app)) == (1, 1)  # the row and its file stay together
    with app.app_context():
        attachments.remove_attachment(user(people.solver), submitted.proposal_id, attachment_id)
    assert (stored(uploads), rows(app)) == ([], 0)
