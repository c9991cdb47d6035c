"""JSON API for accounts."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts import services
from marketplace.accounts.schemas import MeSchema
from marketplace.auth import api_user

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="Your account")


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self) -> dict:
        """The signed-in user and the organizations they belong to."""
        user = api_user()
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "is_platform_finance": user.is_platform_finance,
            "is_admin": user.is_admin,
            "organizations": services.organizations_of(user),
        }
