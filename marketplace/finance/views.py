"""HTML pages of the finance desk."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from marshmallow import ValidationError

from marketplace.errors import Invalid
from marketplace.finance import services
from marketplace.finance.schemas import TrialBalanceQuerySchema

bp = Blueprint("finance", __name__, url_prefix="/finance")


@bp.route("/trial-balance")
@login_required
def trial_balance() -> ResponseReturnValue:
    try:
        as_of = TrialBalanceQuerySchema().load(request.args)["as_of"]
    except ValidationError as error:
        raise Invalid(
            "Give the date as ISO 8601 with a time zone, e.g. 2026-01-31T23:59:59Z.",
            error.normalized_messages(),
        ) from error
    lines = services.trial_balance(current_user, as_of)
    return render_template(
        "finance/trial_balance.html",
        lines=lines,
        totals=services.totals_by_currency(lines),
        as_of=as_of,
    )
