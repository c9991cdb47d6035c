"""Who is asking: the signed-in user for pages and, for the API, the same session."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace.accounts.models import User
from marketplace.accounts.services import get_user
from marketplace.errors import Unauthorized, problem, wants_json
from marketplace.extensions import login_manager

login_manager.login_view = "accounts.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return get_user(int(user_id)) if user_id.isdigit() else None


@login_manager.unauthorized_handler
def unauthorized() -> ResponseReturnValue:
    if wants_json():
        return problem(401, "Unauthorized", "Sign in to use this endpoint.")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def api_user() -> User:
    """The authenticated user of an API request, or a 401 problem."""
    if not current_user.is_authenticated:
        raise Unauthorized("Sign in to use this endpoint.")
    return current_user._get_current_object()
