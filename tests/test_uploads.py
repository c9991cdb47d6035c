"""Every trick an upload can try is refused with a field error naming it, and leaves nothing
behind (no file, no row): disguised Office files and PDFs, scripts after an image header,
names with hidden direction marks, zip bombs, decompression bombs, SVG logos, viruses (with a
local clamd stand-in), and a scanner that does not answer."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject
from sqlalchemy import func, select

from marketplace.accounts.models import Organization
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.proposals import attachments
from marketplace.proposals.models import Attachment
from marketplace.uploads import images, office
from tests import sample_files as sample
from tests.challenges.conftest import people, user  # noqa: F401
from tests.factories import make_token
from tests.local_servers import EICAR, Clamd
from tests.proposals.conftest import need, submitted  # noqa: F401

PORTAL = {"tagline": "", "about": "", "primary_color": "#aa0000", "accent_color": "#111111",
          "email_domains": ""}  # fmt: skip


@pytest.fixture(autouse=True)
def uploads(app, tmp_path) -> Path:
    previous = app.config["UPLOAD_FOLDER"], app.config.get("CLAMD_SOCKET")
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"], app.config["CLAMD_SOCKET"] = previous


@pytest.fixture
def token(app, people) -> dict[str, str]:  # noqa: F811
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(user(people.solver))[1]}"}


def upload(client, proposal_id: int, name: str, data: bytes, headers: dict):
    return client.post(
        f"/api/v1/proposals/{proposal_id}/attachments",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=headers,
    )


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def attachment_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Attachment.id)))


def refused(app, client, submitted, token, uploads, name: str, data: bytes) -> str:  # noqa: F811
    """Upload through the API; it must be a 422 on ``file`` that stored nothing."""
    before = files_in(uploads), attachment_rows(app)
    response = upload(client, submitted.proposal_id, name, data, token)
    assert response.status_code == 422, response.get_data(as_text=True)
    problem = response.get_json()
    assert list(problem["errors"]) == ["file"]
    assert (files_in(uploads), attachment_rows(app)) == before
    return problem["errors"]["file"][0]


def accepted(client, submitted, token, name: str, data: bytes) -> dict:  # noqa: F811
    response = upload(client, submitted.proposal_id, name, data, token)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


# -- Office files --------------------------------------------------------------------------


def test_clean_office_files_are_accepted(client, submitted, token) -> None:  # noqa: F811
    for kind in ("docx", "xlsx", "pptx"):
        assert accepted(client, submitted, token, f"plan.{kind}", sample.office(kind))["size"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (sample.zip_of({"payload.exe": b"MZ\x90\x00", "index.html": b"<script>x</script>"}),
         "no [Content_Types].xml"),
        (sample.office(extra={"word/payload.exe": b"MZ\x90\x00"}),
         "program, script or web page: word/payload.exe"),
        (sample.office(extra={"word/afchunk.htm": b"<script>alert(1)</script>"}),
         "program, script or web page: word/afchunk.htm"),
        (sample.office(extra={"word/run.ps1": b"Start-Process calc"}), "word/run.ps1"),
        (sample.office(extra={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "macros"),
        (sample.office(content_types_extra='<Override PartName="/word/document.xml" '
                       'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>'),
         "macroenabled"),
        (sample.office(extra={"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0"}),
         "embedded object"),
        (sample.office(extra={"word/embeddings/sheet.xlsx": sample.office(
            "xlsx", extra={"xl/evil.exe": b"MZ"})}), "xl/evil.exe"),
        (sample.office(content_types=False), "no [Content_Types].xml"),
        (sample.office("xlsx"), "not a .docx file (it is a .xlsx file)"),
        (b"<html><script>alert(1)</script></html>" + sample.office(), "not a .docx file"),
        (sample.office(extra={"word/../../evil.xml": b"x"}), "outside the package"),
        (b"PK\x03\x04 not really a zip", "not a valid .docx document"),
    ],
)
def test_disguised_or_dangerous_office_files_are_refused(
    app, client, submitted, token, uploads, data, message  # noqa: F811
) -> None:
    assert message in refused(app, client, submitted, token, uploads, "plan.docx", data)


def test_zip_bombs_are_refused(app, client, submitted, token, uploads, monkeypatch) -> None:  # noqa: F811
    bomb = sample.office(extra={"word/zeros.xml": b"\0" * (20 * 1024 * 1024)})
    assert "unpacks 200 times larger" in refused(
        app, client, submitted, token, uploads, "plan.docx", bomb
    )
    monkeypatch.setattr(office, "MAX_UNPACKED_BYTES", 4096)
    big = sample.office(extra={"word/text.xml": os.urandom(3000).hex().encode()})
    assert "would unpack to more than" in refused(
        app, client, submitted, token, uploads, "plan.docx", big
    )
    monkeypatch.setattr(office, "MAX_MEMBERS", 5)
    many = sample.office(extra={f"word/part{i}.xml": b"<p/>" for i in range(5)})
    assert "more than 5 parts" in refused(app, client, submitted, token, uploads, "a.docx", many)


# -- PDFs ----------------------------------------------------------------------------------


def pdf_with_javascript_in_names() -> bytes:
    scripts = ArrayObject([TextStringObject("hello"), sample.js_action()])
    javascript = DictionaryObject({NameObject("/Names"): scripts})
    return sample.pdf({"/Names": DictionaryObject({NameObject("/JavaScript"): javascript})})


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def uri_action() -> DictionaryObject:
    uri = TextStringObject("https://evil.example")
    return DictionaryObject({NameObject("/S"): NameObject("/URI"), NameObject("/URI"): uri})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (sample.pdf({"/OpenAction": sample.js_action()}), "contains JavaScript"),
        (pdf_with_javascript_in_names(), "contains JavaScript"),
        (sample.pdf(page_extra={"/AA": DictionaryObject({NameObject("/O"): uri_action()})}),
         "run on events (/AA)"),
        (sample.pdf({"/OpenAction": sample.launch_action()}), "launches a program (/Launch)"),
        (sample.pdf({"/OpenAction": uri_action()}), "runs when it is opened (/OpenAction)"),
        (sample.pdf_with_embedded_file(), "embedded files"),
        (b"%PDF-1.7\n<html><body><script>alert(document.cookie)</script></body></html>",
         "holds a web page"),
        (b"%PDF-1.4\n" + b"%" * 2000 + b"\n<script>alert(1)</script>", "not a valid PDF"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
         "not a valid PDF"),
        (encrypted_pdf(), "encrypted"),
        (b"<html><script>alert(1)</script></html>", "content is not a .pdf file"),
    ],
)
def test_pdfs_that_run_things_hide_files_or_are_no_pdf_are_refused(
    app, client, submitted, token, uploads, data, message  # noqa: F811
) -> None:
    assert message in refused(app, client, submitted, token, uploads, "plan.pdf", data)


def test_a_clean_pdf_is_accepted_even_when_it_opens_at_a_page(client, submitted, token) -> None:  # noqa: F811
    assert accepted(client, submitted, token, "plan.pdf", sample.pdf())["content_type"] == (
        "application/pdf"
    )
    at_page_one = sample.pdf({"/OpenAction": ArrayObject([NumberObject(0), NameObject("/Fit")])})
    assert accepted(client, submitted, token, "start.pdf", at_page_one)


# -- images, text and names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n<script>alert(1)</script>", "not a valid PNG image"),
        ("photo.jpg", b"\xff\xd8\xff<script>alert(1)</script>", "not a valid JPEG image"),
        ("photo.png", sample.image("JPEG"), "not a .png file (it is a .jpg file)"),
        ("notes.txt", sample.office(), "not text (it is a .docx file)"),
        ("notes.csv", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "not text"),
        ("invoice\u202efdp.exe", sample.pdf(), "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("plan\u2066.pdf", sample.pdf(), "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("plan\t.pdf", sample.pdf(), "U+0009"),
        ("plan\x85.pdf", sample.pdf(), "U+0085"),
    ],
)
def test_disguised_images_text_and_names_are_refused(
    app, client, submitted, token, uploads, name, data, message  # noqa: F811
) -> None:
    assert message in refused(app, client, submitted, token, uploads, name, data)


@pytest.mark.parametrize("name", ["plan\n.pdf", "plan\r\nX-Evil 1.pdf", "a\u2028b.pdf"])
def test_line_breaks_in_a_file_name_are_refused(app, name) -> None:
    """A browser sends them percent-encoded; the service refuses them however they came."""
    with app.app_context(), pytest.raises(Invalid) as error:
        attachments.check_filename(name)
    assert "control characters and hidden direction marks" in error.value.errors["file"][0]


def test_real_images_and_text_are_accepted(client, submitted, token) -> None:  # noqa: F811
    assert accepted(client, submitted, token, "photo.png", sample.image())
    assert accepted(client, submitted, token, "photo.jpeg", sample.image("JPEG"))
    assert accepted(client, submitted, token, "notes.md", "# Plan – ünïcode\n".encode())


def test_the_page_shows_the_refusal_next_to_the_file(app, client, auth, submitted, uploads) -> None:  # noqa: F811
    auth.login(submitted.lead)
    response = client.post(
        f"/proposals/{submitted.proposal_id}/attachments",
        data={"file": (io.BytesIO(sample.zip_of({"payload.exe": b"MZ"})), "plan.docx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "no [Content_Types].xml" in response.get_data(as_text=True)
    assert (files_in(uploads), attachment_rows(app)) == ([], 0)


# -- the virus scanner ---------------------------------------------------------------------


@pytest.fixture
def clamd_dir() -> Path:
    """A short folder for unix sockets (their paths are limited to about 100 bytes)."""
    folder = tempfile.mkdtemp(prefix="clamd-")
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_clean_file_is_scanned_then_stored_and_a_virus_is_refused(
    app, client, submitted, token, uploads, clamd_dir  # noqa: F811
) -> None:
    clamd = Clamd(str(clamd_dir / "clamd.sock"))
    app.config["CLAMD_SOCKET"] = clamd.path
    try:
        clean = sample.pdf()
        accepted(client, submitted, token, "plan.pdf", clean)
        assert clamd.scanned == [clean]
        message = refused(app, client, submitted, token, uploads, "eicar.txt", EICAR)
        assert "virus scanner found Eicar-Test-Signature" in message
    finally:
        clamd.stop()
    assert (attachment_rows(app), len(files_in(uploads))) == (1, 1)


def test_a_file_larger_than_the_scanner_takes_is_refused(
    app, client, submitted, token, uploads, clamd_dir  # noqa: F811
) -> None:
    clamd = Clamd(str(clamd_dir / "clamd.sock"), max_bytes=1000)
    app.config["CLAMD_SOCKET"] = clamd.path
    try:
        data = ("word " * 100_000).encode()
        message = refused(app, client, submitted, token, uploads, "notes.txt", data)
    finally:
        clamd.stop()
    assert "larger than the virus scanner may check" in message


@pytest.mark.parametrize("scanner", ["silent", "absent"])
def test_a_scanner_that_does_not_answer_refuses_the_upload(
    app, client, submitted, token, uploads, clamd_dir, scanner  # noqa: F811
) -> None:
    """Fail closed: a configured scanner that cannot say "OK" stores nothing."""
    path = str(clamd_dir / "clamd.sock")
    clamd = Clamd(path, silent=True) if scanner == "silent" else None
    app.config["CLAMD_SOCKET"] = path
    app.config["CLAMD_TIMEOUT"] = 0.5
    try:
        message = refused(app, client, submitted, token, uploads, "plan.pdf", sample.pdf())
    finally:
        if clamd is not None:
            clamd.stop()
        app.config["CLAMD_TIMEOUT"] = 10
    assert "virus scanner is not available" in message


# -- logos ---------------------------------------------------------------------------------


def post_logo(client, data: bytes, name: str = "logo.png"):
    return client.post(
        "/o/acme/settings",
        data={**PORTAL, "logo": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def acme_logo(app) -> str | None:
    with app.app_context():
        statement = select(Organization.logo_filename).where(Organization.slug == "acme")
        return db.session.scalar(statement)


def bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")  # 400 million pixels, ~50 KB
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n<script>alert(document.cookie)</script>", "not a valid PNG"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "not a valid PNG"),
        (sample.pdf(), "not a valid PNG"),
        (bomb(), "unpacks to far more pixels"),
    ],
)
def test_bad_logos_are_refused_and_nothing_is_stored(
    app, client, auth, people, uploads, data, message  # noqa: F811
) -> None:
    auth.login(people.owner)
    response = post_logo(client, data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Upload a PNG, JPEG or WebP image." in page and message in page
    assert (files_in(uploads), acme_logo(app)) == ([], None)


def test_a_logo_with_too_many_pixels_is_refused(
    app, client, auth, people, uploads, monkeypatch  # noqa: F811
) -> None:
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    auth.login(people.owner)
    response = post_logo(client, sample.image(size=(64, 32)))
    assert response.status_code == 422 and "64 × 32 pixels" in response.get_data(as_text=True)
    assert files_in(uploads) == []


def test_a_logo_is_re_encoded_to_a_small_png_without_metadata_and_served_as_such(
    app, client, auth, people, uploads  # noqa: F811
) -> None:
    auth.login(people.owner)
    tricked = sample.png_with_text("<script>alert(1)</script>") + b"<script>alert(2)</script>"
    assert post_logo(client, tricked).status_code == 302
    served = client.get("/o/acme/logo")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert b"script" not in served.data
    stored = Image.open(io.BytesIO(served.data))
    assert stored.format == "PNG" and "Comment" not in stored.info
    assert acme_logo(app).endswith(".png")

    assert post_logo(client, sample.image("JPEG", size=(2000, 1000)), "big.jpg").status_code == 302
    assert Image.open(io.BytesIO(client.get("/o/acme/logo").data)).size == (512, 256)
    assert files_in(uploads) == [f"logos/{acme_logo(app)}"]  # the old logo went at the commit


def test_a_logo_is_scanned(app, client, auth, people, uploads, clamd_dir) -> None:  # noqa: F811
    clamd = Clamd(str(clamd_dir / "clamd.sock"))
    app.config["CLAMD_SOCKET"] = clamd.path
    auth.login(people.owner)
    logo = sample.image()
    try:
        assert post_logo(client, logo).status_code == 302
    finally:
        clamd.stop()
    assert clamd.scanned == [logo]
