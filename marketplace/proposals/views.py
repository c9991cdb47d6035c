"""HTML pages for proposals: write, team and split, files, private thread, solver home."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("proposals", __name__)
