"""Proposal attachments: checked by name and by content, kept outside the web root under a
random name, and handed out only to the people who may read the proposal."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import IO

from flask import current_app

from marketplace.accounts.models import User
from marketplace.audit.log import record
from marketplace.db import command
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.extensions import db
from marketplace.files import remove_after_commit, write_new_file
from marketplace.proposals.access import (
    get_proposal,
    require_changeable,
    require_team,
    seeker_sees,
)
from marketplace.proposals.models import Attachment
from marketplace.text_rules import unsafe_characters
from marketplace.uploads import Refused, content, images, scanner

MAX_FILES = 10
#: extension -> (content type, what ``filetype`` must detect); see marketplace.uploads.content
TYPES = content.TYPES
ALLOWED = ", ".join(sorted(TYPES))


def _refuse(message: str) -> Invalid:
    return Invalid("The file was not accepted.", {"file": [message]})


def max_bytes() -> int:
    return current_app.config["ATTACHMENT_MAX_BYTES"]


def check_filename(filename: str) -> str:
    """The extension of a plain file name; names that try to reach a path are refused."""
    name = filename or ""
    if not name.strip():
        raise _refuse("Choose a file.")
    if (
        len(name) > 200
        or any(c in name for c in "/\\\x00:")
        or name.startswith(".")
        or ".." in name
    ):
        raise _refuse("Use a plain file name (no folders, no leading dot, at most 200 letters).")
    hidden = unsafe_characters(name)
    if hidden:
        raise _refuse(
            f"The file name contains {', '.join(hidden)}: control characters and hidden "
            "direction marks can disguise a file's real type. Rename the file."
        )
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in TYPES:
        raise _refuse(f"Files of this type are not accepted; use one of: {ALLOWED}.")
    return extension


def _check_content(extension: str, data: bytes) -> None:
    """What the file really is (``marketplace.uploads``), then the virus scan if configured."""
    try:
        content.check_attachment(extension, data)
        if extension in images.FORMATS:
            images.check_image(data, extension)
        scanner.scan(data)
    except Refused as refused:
        raise _refuse(refused.message) from None


def _folder() -> str:
    return os.path.join(current_app.config["UPLOAD_FOLDER"], "proposals")


@command
def add_attachment(user: User, proposal_id: int, filename: str, stream: IO[bytes]) -> Attachment:
    """A team member adds a file before the deadline. The file is written once everything is
    checked, and removed again if the command fails after all."""
    proposal = get_proposal(user, proposal_id)
    require_team(user, proposal)
    require_changeable(proposal)
    if len(proposal.attachments) >= MAX_FILES:
        raise Conflict(f"A proposal holds at most {MAX_FILES} files; remove one first.")
    extension = check_filename(filename)
    limit = max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _refuse(f"The file is larger than {limit // (1024 * 1024)} MB.")
    if not data:
        raise _refuse("The file is empty.")
    _check_content(extension, data)
    storage_name = f"{secrets.token_hex(16)}.bin"
    attachment = Attachment(
        proposal_id=proposal.id,
        filename=filename,
        content_type=TYPES[extension][0],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_name=storage_name,
        uploaded_by_id=user.id,
    )
    db.session.add(attachment)
    record("attachment.add", obj=attachment, organization_id=seeker_sees(proposal), actor=user)
    write_new_file(_folder(), storage_name, data, field="file")
    return attachment


@dataclass(frozen=True)
class Download:
    path: str
    filename: str
    content_type: str


def _attachment_of(user: User | None, proposal_id: int, attachment_id: int) -> Attachment:
    proposal = get_proposal(user, proposal_id)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.proposal_id != proposal.id:
        raise NotFound("No such file.")
    return attachment


def download(user: User | None, proposal_id: int, attachment_id: int) -> Download:
    """The stored file, for the people who may read the proposal (everyone else: 404)."""
    attachment = _attachment_of(user, proposal_id, attachment_id)
    path = os.path.join(_folder(), attachment.storage_name)
    if not os.path.isfile(path):
        raise NotFound("This file is no longer stored.")
    seen_by = seeker_sees(attachment.proposal)
    record("attachment.download", obj=attachment, organization_id=seen_by, actor=user)
    return Download(path, attachment.filename, attachment.content_type)


@command
def remove_attachment(user: User, proposal_id: int, attachment_id: int) -> None:
    attachment = _attachment_of(user, proposal_id, attachment_id)
    require_team(user, attachment.proposal)
    require_changeable(attachment.proposal)
    record("attachment.remove", obj=attachment, organization_id=seeker_sees(attachment.proposal))
    db.session.delete(attachment)
    remove_after_commit(os.path.join(_folder(), attachment.storage_name))
