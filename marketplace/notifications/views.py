from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.notifications import services
from marketplace.pagination import html_page

bp = Blueprint("notifications", __name__)


@bp.route("/notifications")
@login_required
def inbox() -> ResponseReturnValue:
    page = html_page(
        lambda cursor, per_page: services.inbox(current_user, cursor=cursor, per_page=per_page),
        request.args,
    )
    return render_template("notifications/inbox.html", page=page)


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
