"""A virus scan by ClamAV's daemon, when ``CLAMD_SOCKET`` names its unix socket.

The bytes go to clamd with the INSTREAM command (``zINSTREAM\\0``, then chunks each preceded
by their length as 4 big-endian bytes, then a zero length); clamd answers ``stream: OK`` or
``stream: <signature> FOUND``. A scanner that is configured but does not answer in
``CLAMD_TIMEOUT`` seconds, or answers anything else, fails closed: the upload is refused
with a "try again later" message and nothing is stored. Queueing unscanned files instead
would mean keeping them somewhere nobody may download from until a scan clears them, which
this product has no state for.
"""

from __future__ import annotations

import logging
import socket
import struct

from flask import current_app

from marketplace.uploads import Refused

log = logging.getLogger(__name__)
CHUNK = 64 * 1024
UNAVAILABLE = ("The virus scanner is not available right now, so the file was not accepted. "
               "Nothing was saved; please try again later.")  # fmt: skip


def scan(data: bytes) -> None:
    """Refuse ``data`` if clamd finds something in it, or cannot say; no-op without
    ``CLAMD_SOCKET``."""
    path = current_app.config.get("CLAMD_SOCKET")
    if not path:
        return
    timeout = float(current_app.config.get("CLAMD_TIMEOUT") or 10)
    try:
        answer = _instream(path, data, timeout)
    except OSError as error:
        log.error("clamd at %s did not answer: %s", path, error)
        raise Refused(UNAVAILABLE) from None
    if answer.endswith(" FOUND"):
        signature = answer.removeprefix("stream:").removesuffix(" FOUND").strip()
        log.warning("clamd found %s in an upload", signature)
        raise Refused(f"The virus scanner found {signature} in this file.")
    if "size limit exceeded" in answer:
        raise Refused("This file is larger than the virus scanner may check, so it was not "
                      "accepted. Nothing was saved.")  # fmt: skip
    if answer != "stream: OK":
        log.error("clamd at %s answered %r", path, answer)
        raise Refused(UNAVAILABLE)


def _instream(path: str, data: bytes, timeout: float) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(path)
        connection.sendall(b"zINSTREAM\0")
        try:
            for start in range(0, len(data), CHUNK):
                chunk = data[start : start + CHUNK]
                connection.sendall(struct.pack(">I", len(chunk)) + chunk)
            connection.sendall(struct.pack(">I", 0))
        except BrokenPipeError:
            pass  # clamd stopped reading (its StreamMaxLength): its answer says so
        answer = b""
        while not answer.endswith(b"\0"):
            received = connection.recv(4096)
            if not received:
                break
            answer += received
            if len(answer) > 4096:
                break
    return answer.rstrip(b"\0").decode("utf-8", "replace").strip()
