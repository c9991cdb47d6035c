"""Saving the portal settings is one command: it saves everything or nothing, writes the logo
file only when the whole form is valid, and leaves no file behind when it fails."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace import files
from marketplace.accounts.models import Organization, OrganizationDomain
from marketplace.extensions import db
from tests import sample_files

PNG = sample_files.image(color=(0, 0, 0))
OTHER_PNG = sample_files.image(color=(1, 1, 1))
SAVED = {
    "tagline": "Better packaging",
    "about": "We **care**.",
    "primary_color": "#aa0000",
    "accent_color": "#111111",
    "email_domains": "acme-labs.example, acme.example",
}


def post(client, **changes):
    data = {**SAVED, **changes}
    return client.post("/o/acme/settings", data=data, content_type="multipart/form-data")


def portal(app) -> tuple[str, str | None, list[tuple[int, str]]]:
    """(tagline, logo file name, [(row id, domain)]) as stored."""
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        rows = db.session.execute(
            select(OrganizationDomain.id, OrganizationDomain.domain)
            .where(OrganizationDomain.organization_id == acme.id)
            .order_by(OrganizationDomain.domain)
        ).all()
        return acme.tagline, acme.logo_filename, [tuple(row) for row in rows]


def stored_logos(folder: Path) -> list[str]:
    logos = folder / "logos"
    return sorted(os.listdir(logos)) if logos.exists() else []


@pytest.fixture
def owner(app, client, auth, people, tmp_path) -> Path:
    """The owner signed in, uploads going to a fresh folder."""
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    auth.login(people.owner)
    return tmp_path


def test_saving_the_settings_unchanged_answers_200_and_changes_nothing(app, client, owner):
    assert post(client, logo=(io.BytesIO(PNG), "logo.png")).status_code == 302
    before = portal(app)
    assert before[0] == "Better packaging" and len(before[2]) == 2

    again = post(client)  # the same form, no new logo
    assert again.status_code == 302
    page = client.get(again.headers["Location"])
    assert page.status_code == 200 and "Portal saved." in page.get_data(as_text=True)
    assert portal(app) == before  # the same domain rows, the same logo
    assert stored_logos(owner) == [before[1]]


def test_a_changed_domain_list_keeps_the_rows_that_stay(app, client, owner):
    post(client)
    kept = {domain: row for row, domain in portal(app)[2]}["acme.example"]
    assert post(client, email_domains="acme.example, acme-research.example").status_code == 302
    domains = {domain: row for row, domain in portal(app)[2]}
    assert sorted(domains) == ["acme-research.example", "acme.example"]
    assert domains["acme.example"] == kept


def test_a_tagline_with_a_bad_logo_saves_nothing(app, client, owner):
    before = portal(app)
    response = post(
        client, tagline="A new tagline", logo=(io.BytesIO(b"<svg onload=alert(1)>"), "x.png")
    )
    assert response.status_code == 422
    assert "Upload a PNG, JPEG or WebP image." in response.get_data(as_text=True)
    assert portal(app) == before
    assert stored_logos(owner) == []


def test_a_bad_field_with_a_good_logo_writes_no_file(app, client, owner):
    before = portal(app)
    response = post(client, primary_color="red", logo=(io.BytesIO(PNG), "logo.png"))
    assert response.status_code == 422 and "Use a colour" in response.get_data(as_text=True)
    assert portal(app) == before
    assert stored_logos(owner) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_or_read_only_folder_is_a_field_error_and_leaves_nothing(
    app, client, owner, monkeypatch, code
):
    """The disk fills up half-way through writing the logo: the page says so on the logo
    field (422, not 500), the half-written file is gone, and the tagline was not saved."""

    def write_half_then_fail(path: str, data: bytes) -> None:
        with open(path, "xb") as out:
            out.write(data[: len(data) // 2])
        raise OSError(code, os.strerror(code), path)

    before = portal(app)
    monkeypatch.setattr(files, "write_bytes", write_half_then_fail)
    response = post(client, tagline="A new tagline", logo=(io.BytesIO(PNG), "logo.png"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "cannot store files right now" in html and 'class="field has-error"' in html
    assert portal(app) == before
    assert stored_logos(owner) == []


def test_a_database_failure_after_the_logo_is_written_removes_it(app, client, owner, monkeypatch):
    """The file is written, then the transaction fails (here: the commit's flush breaks the
    one-row-per-domain rule): the file goes with the rollback, and nothing is saved."""
    real_write = files.write_bytes
    post(client)
    before = portal(app)
    with app.app_context():
        acme_id = db.session.scalar(select(Organization.id).where(Organization.slug == "acme"))

    def write_then_break_a_rule(path: str, data: bytes) -> None:
        real_write(path, data)
        db.session.add(OrganizationDomain(organization_id=acme_id, domain="acme.example"))

    monkeypatch.setattr(files, "write_bytes", write_then_break_a_rule)
    with pytest.raises(IntegrityError):
        post(client, tagline="A new tagline", logo=(io.BytesIO(PNG), "logo.png"))
    assert portal(app) == before
    assert stored_logos(owner) == []


def test_a_new_logo_replaces_the_old_file_once_saved(app, client, owner):
    post(client, logo=(io.BytesIO(PNG), "logo.png"))
    first = portal(app)[1]
    post(client, logo=(io.BytesIO(OTHER_PNG), "logo.png"))
    second = portal(app)[1]
    assert second != first
    assert stored_logos(owner) == [second]
    served = Image.open(io.BytesIO(client.get("/o/acme/logo").data))
    assert served.getpixel((0, 0)) == (1, 1, 1, 255)  # the second logo, re-encoded
