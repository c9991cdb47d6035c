"""The audit log's pages: the platform admins' search, and an organization's owners' part."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from marshmallow import ValidationError

from marketplace.accounts.services import get_organization
from marketplace.audit import search
from marketplace.audit.models import Outcome
from marketplace.audit.schemas import AuditQuerySchema
from marketplace.errors import Invalid

bp = Blueprint("audit", __name__)


def _query() -> tuple[search.AuditFilters, str | None, int]:
    args = {k: v for k, v in request.args.items() if v != ""}
    try:
        query = AuditQuerySchema().load(args)
    except ValidationError as error:
        raise Invalid("Please correct the search.", error.normalized_messages()) from error
    cursor, per_page = query.pop("cursor"), query.pop("per_page")
    return search.AuditFilters(**query), cursor, per_page


@bp.route("/admin/audit")
@login_required
def admin_log() -> ResponseReturnValue:
    search.require_platform_admin(current_user)
    filters, cursor, per_page = _query()
    page = search.search(current_user, filters, cursor, per_page)
    return _render(page, filters, organization=None)


@bp.route("/o/<slug>/settings/audit")
@login_required
def organization_log(slug: str) -> ResponseReturnValue:
    organization = get_organization(slug)
    search.require_owner(current_user, organization)
    filters, cursor, per_page = _query()
    page = search.organization_events(current_user, organization, filters, cursor, per_page)
    return _render(page, filters, organization=organization)


def _render(page, filters, organization) -> ResponseReturnValue:  # noqa: ANN001
    response = render_template(
        "audit/log.html", page=page, filters=filters, organization=organization,
        outcomes=list(Outcome),
    )  # fmt: skip
    return response, 200, {"Cache-Control": "no-store"}
