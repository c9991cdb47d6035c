"""The front page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

bp = Blueprint("main", __name__)


@bp.route("/")
def home() -> ResponseReturnValue:
    return render_template("home.html", sandbox=not current_app.config["STRIPE_SECRET_KEY"])


@bp.route("/healthz")
def health() -> ResponseReturnValue:
    return {"status": "ok"}
