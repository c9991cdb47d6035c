"""JSON API for the finance desk."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.auth import api_user
from marketplace.finance import services
from marketplace.finance.schemas import TrialBalanceLineSchema, TrialBalanceQuerySchema

blp = Blueprint("finance_api", __name__, url_prefix="/api/v1/ledger", description="The book")


@blp.route("/trial-balance")
class TrialBalance(MethodView):
    @blp.arguments(TrialBalanceQuerySchema, location="query")
    @blp.response(200, TrialBalanceLineSchema(many=True))
    def get(self, query: dict) -> list:
        """Every account's posted debits, credits and balance (platform finance staff)."""
        return services.trial_balance(api_user(), query["as_of"])
