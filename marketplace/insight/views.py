"""HTML pages for co-creator insight: a need's funnel, and an organization's needs and
solvers with the typology."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from marshmallow import ValidationError

from marketplace.accounts.services import role_in
from marketplace.challenges.access import EDITORS
from marketplace.errors import Invalid
from marketplace.insight import services
from marketplace.insight.schemas import InsightQuerySchema
from marketplace.pagination import INVALID_CURSOR

bp = Blueprint("insight", __name__)


@bp.route("/challenges/<int:challenge_id>/insight")
@login_required
def need(challenge_id: int) -> ResponseReturnValue:
    funnel = services.need_insight(current_user, challenge_id)
    organization = funnel.challenge.organization
    return render_template(
        "insight/need.html",
        funnel=funnel,
        challenge=funnel.challenge,
        organization=organization,
        may_see_organization=role_in(current_user, organization) in EDITORS,
    )


@bp.route("/o/<slug>/insight")
@login_required
def organization(slug: str) -> ResponseReturnValue:
    def load(arguments: dict) -> services.OrganizationInsight:
        return services.organization_insight(current_user, slug, **arguments)

    try:
        arguments = InsightQuerySchema().load(
            {k: v for k, v in request.args.items() if k in InsightQuerySchema().fields}
        )
        insight = load(arguments)
    except (ValidationError, Invalid):
        flash(INVALID_CURSOR, "error")
        insight = load({})
    return render_template(
        "insight/organization.html", insight=insight, organization=insight.organization
    )
