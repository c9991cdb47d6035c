"""JSON API for co-creator insight: a need's funnel and response times, and an organization's
needs and solvers with the typology. Reads only: a bearer token or the session cookie."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.api import ID, problem_responses
from marketplace.auth import READ_AUTH, api_user, token_area
from marketplace.insight import services
from marketplace.insight.schemas import (
    FunnelSchema,
    InsightQuerySchema,
    OrganizationInsightSchema,
)

blp = Blueprint(
    "insight_api",
    __name__,
    url_prefix="/api/v1",
    description="Co-creator insight for seekers: funnels, response times, solver typology",
)
token_area(blp, "needs")


PROBLEMS = {
    401: "Not authenticated: sign in or send an API token",
    403: "Authenticated, but your role in the organization does not allow this",
    404: "No such need or organization, or a need you may not see",
    422: "A cursor or page size that is not valid",
}


problems = problem_responses(blp, PROBLEMS)


@blp.route(f"/challenges/<{ID}:challenge_id>/insight")
class NeedInsight(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, FunnelSchema)
    @problems(401, 403, 404)
    def get(self, challenge_id: int) -> Any:
        """The need's funnel (views, terms accepted, proposals submitted, decided,
        awarded) and response times (its organization's owners, managers and reviewers)."""
        return services.need_insight(api_user(), challenge_id)


@blp.route("/organizations/<slug>/insight")
class OrganizationInsight(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(InsightQuerySchema, location="query")
    @blp.response(200, OrganizationInsightSchema)
    @problems(401, 403, 404, 422, _404="No such organization")
    def get(self, query: dict, slug: str) -> Any:
        """The funnels of the organization's needs and its solvers: what each did, won and
        shares in, and their type in the typology (the organization's owners and managers)."""
        return services.organization_insight(api_user(), slug, **query)
