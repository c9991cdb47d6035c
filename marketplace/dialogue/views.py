"""HTML: ask a public question, answer it, post a progress update."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.dialogue import services
from marketplace.errors import Conflict, Invalid
from marketplace.forms import flash_error

bp = Blueprint("dialogue", __name__)


def _back(challenge_id: int, anchor: str) -> ResponseReturnValue:
    return redirect(url_for("challenges.detail", challenge_id=challenge_id, _anchor=anchor))


@bp.route("/challenges/<int:challenge_id>/clarifications", methods=["POST"])
@login_required
def ask(challenge_id: int) -> ResponseReturnValue:
    try:
        services.ask(current_user, challenge_id, request.form.get("question", ""))
    except (Invalid, Conflict) as error:
        flash_error(error)
    else:
        flash("Question sent. The answer will be published to every participant.", "success")
    return _back(challenge_id, "clarifications")


@bp.route("/clarifications/<int:clarification_id>/answer", methods=["POST"])
@login_required
def answer(clarification_id: int) -> ResponseReturnValue:
    try:
        clarification = services.answer(
            current_user, clarification_id, request.form.get("answer", "")
        )
    except (Invalid, Conflict) as error:
        flash_error(error)
        return redirect(request.referrer or url_for("main.home"))
    flash("Answer published to every participant.", "success")
    return _back(clarification.challenge_id, "clarifications")


@bp.route("/challenges/<int:challenge_id>/updates", methods=["POST"])
@login_required
def post_update(challenge_id: int) -> ResponseReturnValue:
    try:
        services.post_update(
            current_user, challenge_id, request.form.get("title", ""), request.form.get("body", "")
        )
    except (Invalid, Conflict) as error:
        flash_error(error)
    else:
        flash("Update sent to every participant.", "success")
    return _back(challenge_id, "updates")
