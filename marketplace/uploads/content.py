"""An attachment's content must be what its name says, detected by ``filetype`` and then
opened: Office packages and PDFs are looked inside, text must be UTF-8 and no known binary."""

from __future__ import annotations

import filetype

from marketplace.uploads import Refused
from marketplace.uploads.office import PART_FOLDER, check_office_package
from marketplace.uploads.pdf import check_pdf

#: extension -> (content type served, what ``filetype`` must detect; None: UTF-8 text)
TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    "pdf": ("application/pdf", frozenset({"pdf"})),
    "png": ("image/png", frozenset({"png"})),
    "jpg": ("image/jpeg", frozenset({"jpg"})),
    "jpeg": ("image/jpeg", frozenset({"jpg"})),
    # filetype recognises an Office package only when its parts come in Word's order; any
    # ZIP is opened and checked in full by ``office``.
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        frozenset({"docx", "zip"}),
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        frozenset({"xlsx", "zip"}),
    ),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        frozenset({"pptx", "zip"}),
    ),
    "txt": ("text/plain; charset=utf-8", None),
    "md": ("text/markdown; charset=utf-8", None),
    "csv": ("text/csv; charset=utf-8", None),
}


def detected(data: bytes) -> str | None:
    """The extension ``filetype`` detects from the content, or None."""
    kind = filetype.guess(data)
    return kind.extension if kind is not None else None


def check_attachment(extension: str, data: bytes) -> None:
    """Refuse ``data`` unless it really is a clean file of type ``extension``."""
    expected = TYPES[extension][1]
    found = detected(data)
    if expected is None:
        _check_text(extension, data, found)
        return
    if found not in expected:
        what = f"a .{found} file" if found else "not a known file type"
        raise Refused(f"This file's content is not a .{extension} file (it is {what}).")
    if extension in PART_FOLDER:
        check_office_package(data, extension)
    elif extension == "pdf":
        check_pdf(data)


def _check_text(extension: str, data: bytes, found: str | None) -> None:
    if found is not None:
        raise Refused(f"This .{extension} file is not text (it is a .{found} file).")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"This .{extension} file is not UTF-8 text.") from None
    if b"\x00" in data:
        raise Refused(f"This .{extension} file is not text.")
