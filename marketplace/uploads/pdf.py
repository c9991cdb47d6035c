"""PDFs are parsed with pypdf, and every object reachable from the trailer is looked at.

Refused: files that only start with ``%PDF-`` (HTML after the header, or anything pypdf cannot
read as a PDF with at least one page), encrypted PDFs (their objects cannot be checked), and
PDFs that hold JavaScript (``/JS``, ``/JavaScript``), actions run on opening or on events
(``/OpenAction`` with an action, ``/AA``), ``/Launch`` actions, embedded files
(``/EmbeddedFiles``, ``/EF``, file attachment annotations), Flash (``/RichMedia``) or XFA forms
(which carry scripts). An ``/OpenAction`` that is only a destination (open at page 1) is kept:
it runs nothing.
"""

from __future__ import annotations

import io
import logging
import re

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from marketplace.uploads import Refused

#: Objects looked at before a PDF is refused as too complex to check.
MAX_OBJECTS = 200_000
HEADER = re.compile(rb"%PDF-[12]\.\d")
#: What a browser sniffing the first bytes would take for a web page.
HTML_MARKERS = re.compile(rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|img|object|embed)",
                          re.IGNORECASE)  # fmt: skip
#: Dictionary keys that are refused wherever they appear, with the reason named.
FORBIDDEN_KEYS = {
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",
    "/AA": "actions that run on events (/AA)",
    "/EmbeddedFiles": "embedded files",
    "/EF": "embedded files",
    "/RichMedia": "Flash or other rich media",
    "/XFA": "an XFA form (which carries scripts)",
}
#: Values of ``/S`` (action type) or ``/Type`` / ``/Subtype`` that are refused.
FORBIDDEN_NAMES = {
    "/JavaScript": "JavaScript",
    "/Launch": "an action that launches a program (/Launch)",
    "/EmbeddedFile": "embedded files",
    "/FileAttachment": "embedded files",
    "/RichMedia": "Flash or other rich media",
    "/GoToE": "a link into an embedded file (/GoToE)",
}


def check_pdf(data: bytes) -> None:
    """Refuse ``data`` unless it is a readable PDF with nothing that runs or hides files."""
    if not HEADER.match(data):
        raise Refused("This file is not a PDF (it does not start with a PDF header).")
    if HTML_MARKERS.search(data[:1024]):
        raise Refused("This file starts like a PDF but holds a web page: it is not a PDF.")
    reader = _read(data)
    if reader.is_encrypted:
        raise Refused("This PDF is encrypted or password-protected: remove the password so it "
                      "can be checked.")  # fmt: skip
    problem = _first_problem(reader)
    if problem:
        raise Refused(f"This PDF contains {problem}; PDFs with scripts, automatic actions or "
                      "embedded files are not accepted.")  # fmt: skip


def _read(data: bytes) -> PdfReader:
    previous = logging.getLogger("pypdf").level
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a repaired file is not our error
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return reader
        if len(reader.pages) < 1:
            raise ValueError("no pages")
        return reader
    except Exception as error:  # noqa: BLE001 - pypdf raises many kinds on broken input
        raise Refused(f"This file is not a valid PDF ({type(error).__name__}).") from None
    finally:
        logging.getLogger("pypdf").setLevel(previous)


def _first_problem(reader: PdfReader) -> str | None:
    """Walk every object reachable from the trailer (each once) and name the first problem."""
    seen: set[tuple[int, int]] = set()
    stack: list[object] = [reader.trailer]
    looked_at = 0
    try:
        while stack:
            item = stack.pop()
            if isinstance(item, IndirectObject):
                key = (item.idnum, item.generation)
                if key in seen:
                    continue
                seen.add(key)
                item = item.get_object()
            looked_at += 1
            if looked_at > MAX_OBJECTS:
                return "too many objects to be checked"
            if isinstance(item, DictionaryObject):
                problem = _dictionary_problem(item)
                if problem:
                    return problem
                stack.extend(item.values())
            elif isinstance(item, ArrayObject):
                stack.extend(item)
        root = reader.trailer.get("/Root")
        catalog = root.get_object() if root is not None else None
        opens_with = catalog.get("/OpenAction") if isinstance(catalog, DictionaryObject) else None
        if opens_with is not None and isinstance(opens_with.get_object(), DictionaryObject):
            return "an action that runs when it is opened (/OpenAction)"  # not a page to open at
    except Exception as error:  # noqa: BLE001 - a broken object is a broken file
        raise Refused(f"This file is not a valid PDF ({type(error).__name__}).") from None
    return None


def _dictionary_problem(dictionary: DictionaryObject) -> str | None:
    for key, reason in FORBIDDEN_KEYS.items():
        if key in dictionary:
            return reason
    for key in ("/S", "/Type", "/Subtype"):
        value = dictionary.get(key)
        if isinstance(value, IndirectObject):
            value = value.get_object()
        if isinstance(value, str) and value in FORBIDDEN_NAMES:
            return FORBIDDEN_NAMES[value]
    return None
