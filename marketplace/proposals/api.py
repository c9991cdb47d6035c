"""JSON API for proposals, their team and split, attachments and private messages."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "proposals_api",
    __name__,
    url_prefix="/api/v1",
    description="Proposals, teams and splits, attachments and private messages",
)
