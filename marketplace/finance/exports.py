"""Downloads of the whole book for accountants: CSV and an hledger journal."""

from __future__ import annotations

import io
from dataclasses import dataclass

import ledger
from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.accounts.services import require_platform_finance
from marketplace.errors import NotFound
from marketplace.extensions import db

FORMATS = {
    "csv": (ledger.export_csv, "text/csv", "csv"),
    "hledger": (ledger.export_hledger, "text/plain", "journal"),
}


@dataclass(frozen=True)
class Export:
    text: str
    mimetype: str
    filename: str
    count: int


def export_book(actor: User, format: str) -> Export:
    """Every transfer in one format (platform finance staff only)."""
    require_platform_finance(actor)
    if format not in FORMATS:
        raise NotFound(f"No export format {format!r}; there are {', '.join(FORMATS)}.")
    write, mimetype, extension = FORMATS[format]
    out = io.StringIO()
    count = write(db.session, out)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return Export(out.getvalue(), mimetype, f"book-{stamp}.{extension}", count)
