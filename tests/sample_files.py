"""Real files built in code for upload tests: a clean one of each kind, and the tricks."""

from __future__ import annotations

import io
import zipfile

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>{extra}</Types>'
)
MAIN_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}


def pdf(extra: dict | None = None, *, page_extra: dict | None = None) -> bytes:
    """A one-page PDF; ``extra`` entries go into the catalog, ``page_extra`` into the page."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    for key, value in (page_extra or {}).items():
        page[NameObject(key)] = value
    for key, value in (extra or {}).items():
        writer._root_object[NameObject(key)] = value
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def js_action(script: str = "app.alert(1)") -> DictionaryObject:
    return DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject(script),
    })  # fmt: skip


def launch_action() -> DictionaryObject:
    return DictionaryObject({
        NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe"),
    })  # fmt: skip


def pdf_with_embedded_file() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_attachment("payload.exe", b"MZ\x90\x00")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def office(kind: str = "docx", extra: dict[str, bytes] | None = None,
           content_types_extra: str = "", content_types: bool = True) -> bytes:  # fmt: skip
    """A minimal Office package of ``kind`` with ``extra`` members added."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if content_types:
            archive.writestr("[Content_Types].xml", CONTENT_TYPES.format(extra=content_types_extra))
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(MAIN_PART[kind], "<document/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def image(kind: str = "PNG", size: tuple[int, int] = (64, 32), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=kind)
    return out.getvalue()


def png_with_text(text: str) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 0, 255)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


__all__ = ["ArrayObject", "DecodedStreamObject", "NumberObject"]
