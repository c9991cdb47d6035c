"""HTML pages for judging: reviewers, scores, shortlist, decisions, awards, closing out."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("judging", __name__)
