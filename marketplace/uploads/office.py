"""Office Open XML files (docx, xlsx, pptx) are ZIP packages: open them and look inside.

Refused: anything that is not a ZIP from its first byte, a package without
``[Content_Types].xml`` or without the part folder of its kind (``word/`` for a docx), members
that are programs, scripts or web pages, macros (``vbaProject.bin``, macro-enabled content
types), ActiveX controls and embedded OLE objects (they can carry any program), encrypted
members (they cannot be checked), and archives that would unpack to more than
``MAX_UNPACKED_BYTES`` or hold more than ``MAX_MEMBERS`` files (zip bombs). Office files
embedded in the package are checked the same way, ``MAX_NESTING`` levels deep.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from marketplace.uploads import Refused

MAX_MEMBERS = 2_000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
#: A member unpacking to more than this many times its packed size is a zip bomb.
MAX_RATIO = 200
MAX_NESTING = 2
#: ``[Content_Types].xml`` is read up to this size.
MAX_CONTENT_TYPES_BYTES = 1024 * 1024
PART_FOLDER = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
#: Extensions of members that run or render as a page wherever they are opened.
DANGEROUS_EXTENSIONS = {
    "exe", "dll", "com", "scr", "pif", "cpl", "msi", "msp", "msc", "jar", "class", "apk", "app",
    "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "jse", "mjs", "wsf", "wsh", "hta", "sh",
    "py", "pl", "rb", "php", "lnk", "reg", "inf", "html", "htm", "xhtml", "mht", "mhtml",
    "shtml", "svgz", "swf", "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam",
    "ppsm", "sldm",
}  # fmt: skip
#: Content types (lower case) that mark macros, ActiveX, or web pages inside a package.
DANGEROUS_CONTENT_TYPES = (
    "vbaproject", "macroenabled", "ms-office.activex", "text/html", "application/xhtml",
    "application/x-msdownload", "application/javascript", "text/javascript", "oleobject",
)  # fmt: skip
DANGEROUS_NAMES = {"vbaproject.bin", "vbadata.xml", "vbaprojectsignature.bin"}


def check_office_package(data: bytes, extension: str, *, depth: int = 0) -> None:
    """Refuse ``data`` unless it is a clean .docx, .xlsx or .pptx package (``extension``)."""
    if not data.startswith(b"PK\x03\x04"):
        raise Refused(f"This file is not a valid .{extension} document (not a ZIP package).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise Refused(f"This file is not a valid .{extension} document ({error}).") from None
    with archive:
        _check_shape(members, extension)
        for member in members:
            _check_member(member, extension)
        content_types = _read(archive, "[Content_Types].xml", MAX_CONTENT_TYPES_BYTES).lower()
        for marker in DANGEROUS_CONTENT_TYPES:
            if marker.encode() in content_types:
                raise Refused(
                    f"This .{extension} file declares macros, ActiveX controls, embedded "
                    f"programs or web pages ({marker}); save it without them "
                    f"(as a plain .{extension})."
                )
        for member in members:
            nested = member.filename.rsplit(".", 1)[-1].lower()
            if nested in PART_FOLDER and depth < MAX_NESTING:
                inner = _read(archive, member.filename, MAX_UNPACKED_BYTES)
                check_office_package(inner, nested, depth=depth + 1)
            elif nested in PART_FOLDER:
                raise Refused(f"This .{extension} file nests documents too deeply.")


def _check_shape(members: list[zipfile.ZipInfo], extension: str) -> None:
    if len(members) > MAX_MEMBERS:
        raise Refused(f"This .{extension} file holds more than {MAX_MEMBERS:,} parts.")
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise Refused(
            f"This .{extension} file would unpack to more than "
            f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB (a zip bomb?)."
        )
    if members and min(m.header_offset for m in members) != 0:
        raise Refused(f"This .{extension} file has data hidden before its first part.")
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names:
        raise Refused(
            f"This file is not a valid .{extension} document (no [Content_Types].xml): "
            "a ZIP renamed to look like an Office file?"
        )
    folder = PART_FOLDER[extension]
    if not any(name.startswith(folder) for name in names):
        raise Refused(f"This file is not a .{extension} document (it has no {folder} part).")


def _check_member(member: zipfile.ZipInfo, extension: str) -> None:
    name = member.filename
    if member.flag_bits & 0x1:
        raise Refused(f"This .{extension} file is encrypted or password-protected: "
                      "remove the password so it can be checked.")  # fmt: skip
    normal = posixpath.normpath(name)
    if name.startswith(("/", "\\")) or normal.startswith("..") or "\\" in name or ":" in name:
        raise Refused(f"This .{extension} file holds a part outside the package: {name!r}.")
    if member.compress_size and member.file_size / member.compress_size > MAX_RATIO:
        raise Refused(f"This .{extension} file holds a part that unpacks {MAX_RATIO} times "
                      "larger than it is stored (a zip bomb?).")  # fmt: skip
    base = posixpath.basename(name).lower()
    kind = base.rsplit(".", 1)[-1] if "." in base else ""
    if base in DANGEROUS_NAMES:
        raise Refused(f"This .{extension} file contains macros ({name}); save it without "
                      "macros.")  # fmt: skip
    if kind in DANGEROUS_EXTENSIONS:
        raise Refused(f"This .{extension} file contains a program, script or web page: {name}.")
    lowered = name.lower()
    if "/activex/" in f"/{lowered}" or (
        "/embeddings/" in f"/{lowered}" and kind in {"bin", "ole", ""}
    ):
        raise Refused(
            f"This .{extension} file contains an ActiveX control or an embedded object that "
            f"can carry a program ({name}); remove it and upload again."
        )


def _read(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, never more than ``limit`` of them whatever the header claims."""
    try:
        with archive.open(name) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
        raise Refused(f"A part of this file cannot be read ({error}).") from None
    if len(data) > limit:
        raise Refused("A part of this file unpacks to more than it says (a zip bomb?).")
    return data
