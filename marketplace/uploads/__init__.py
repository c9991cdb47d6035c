"""What an uploaded file really is, checked before a single byte is stored.

``content.check_attachment`` detects the type with ``filetype`` and opens what it claims to
be: Office files as ZIP packages (``office``), PDFs through pypdf (``pdf``), text as UTF-8.
``images.reencode_logo`` turns a logo into a fresh PNG with Pillow. ``scanner.scan`` asks
ClamAV when ``CLAMD_SOCKET`` is set. Each raises ``Refused`` with a message for the person who
uploaded the file; the caller turns it into a field error, so nothing is written.
"""

from __future__ import annotations


class Refused(Exception):
    """The file is not accepted; ``message`` says why, in words for the uploader."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
