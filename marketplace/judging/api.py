"""JSON API for judging: reviewers, reviews, shortlist, decisions, awards, closing a need."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "judging_api",
    __name__,
    url_prefix="/api/v1",
    description="Reviewers, reviews, shortlists, decisions, awards and closing out",
)
