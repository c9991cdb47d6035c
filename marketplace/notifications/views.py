from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.notifications import services

bp = Blueprint("notifications", __name__)


@bp.route("/notifications")
@login_required
def inbox() -> ResponseReturnValue:
    return render_template("notifications/inbox.html", notifications=services.recent(current_user))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read() -> ResponseReturnValue:
    services.mark_all_read(current_user)
    return redirect(url_for("notifications.inbox"))


@bp.app_context_processor
def unread() -> dict:
    if current_user and current_user.is_authenticated:
        return {"unread_notifications": services.unread_count(current_user)}
    return {"unread_notifications": 0}
