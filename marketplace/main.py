"""The front page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("main", __name__)


@bp.route("/")
def home():  # noqa: ANN201
    return render_template("home.html", sandbox=not current_app.config["STRIPE_SECRET_KEY"])


@bp.route("/healthz")
def health():  # noqa: ANN201
    return {"status": "ok"}
