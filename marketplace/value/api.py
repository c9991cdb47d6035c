"""JSON API for value sharing: a solver's earnings, an award's contributions and value reports,
and paying a value share.

Thin resources: parse with marshmallow, call one service, dump. An award the caller may not
see answers 404, an action their role does not allow 403, a state that forbids it 409, input
that breaks a rule (an overlapping period, a period outside the term) 422 with field errors.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.api import ID, problem_responses
from marketplace.auth import READ_AUTH, WRITE_AUTH, api_user, token_area
from marketplace.challenges.schemas import PaymentSchema
from marketplace.rate_limits import export_limit
from marketplace.value import contributions, earnings, reports
from marketplace.value import share_payments as payments
from marketplace.value.schemas import (
    AwardDetailSchema,
    ContributionInputSchema,
    ContributionSchema,
    CorrectionInputSchema,
    EarningsSchema,
    ReversalInputSchema,
    ValueReportInputSchema,
    ValueReportSchema,
)

blp = Blueprint(
    "value_api",
    __name__,
    url_prefix="/api/v1",
    description="Value sharing: earnings, contributions, value reports and their payment",
)
token_area(blp, "value")


PROBLEMS = {
    401: "Not authenticated: no credentials where they are needed, an unknown or revoked "
    "token, or a write sent with only the session cookie (writes need a bearer token)",
    403: "Authenticated, but your role does not allow this",
    404: "No such award, contribution or report, or one you may not see",
    409: "The state does not allow this now",
    422: "Invalid input: `errors` names each field and what is wrong with it",
}


problems = problem_responses(blp, PROBLEMS)


AWARD_FIELDS = (
    "id", "challenge_id", "proposal_id", "prize_rank", "amount", "currency", "shares",
    "ip_terms", "ip_status", "awarded_at",
)  # fmt: skip


def _award_detail(overview: earnings.AwardOverview) -> dict[str, Any]:
    award = overview.award
    first, last = overview.term or (None, None)
    return {
        **{name: getattr(award, name) for name in AWARD_FIELDS},
        "value_term": {"share_bp": overview.share_bp, "first_day": first, "last_day": last},
        "contributions": overview.contributions,
        "reports": [
            {
                **{c.key: getattr(row.report, c.key) for c in row.report.__table__.columns},
                "due": row.due,
                "corrected_by": row.corrected_by,
            }
            for row in overview.reports
        ],
    }


@blp.route("/me/earnings")
class Earnings(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, EarningsSchema(many=True))
    @problems(401)
    def get(self) -> Any:
        """What you earned, per currency: owed (available to pay out), pending (reserved by a
        payout on its way) and paid, with the lines that explain it, newest first."""
        return earnings.earnings(api_user())


@blp.route("/me/earnings.csv")
class EarningsCsv(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, content_type="text/csv", description="A header, then one row per line")
    @problems(401)
    @export_limit
    def get(self) -> Response:
        """Your earnings lines as CSV (amounts in minor and in major units)."""
        return Response(
            earnings.earnings_csv(api_user()),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="earnings.csv"'},
        )


@blp.route(f"/awards/<{ID}:award_id>")
class AwardItem(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, AwardDetailSchema)
    @problems(401, 404)
    def get(self, award_id: int) -> Any:
        """An award with its contributions, its value share term and its value reports (its
        team, the seeker's staff, anyone credited with a contribution)."""
        return _award_detail(earnings.award_overview(api_user(), award_id))


@blp.route(f"/awards/<{ID}:award_id>/contributions")
class Contributions(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ContributionInputSchema)
    @blp.response(201, ContributionSchema)
    @problems(401, 403, 404, 422, _403="Only the seeker's owners and managers record these")
    def post(self, data: dict, award_id: int) -> Any:
        """Record a later contribution (co-development, a follow-up); it counts once the
        person credited confirms it."""
        return contributions.record_contribution(
            api_user(), award_id, data["email"], data["weight"], data["description"]
        )


@blp.route(f"/contributions/<{ID}:contribution_id>/confirm")
class ContributionConfirm(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, ContributionSchema)
    @problems(401, 403, 404, _403="Only the person credited may confirm a contribution")
    def post(self, contribution_id: int) -> Any:
        """Confirm a contribution recorded for you (again: no change)."""
        return contributions.confirm_contribution(api_user(), contribution_id)


@blp.route(f"/awards/<{ID}:award_id>/value-reports")
class ValueReports(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ValueReportInputSchema)
    @blp.response(201, ValueReportSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _403="Only the seeker's owners, managers and finance members report value",
        _409="The terms share no value, or no contribution is confirmed",
        _422="Invalid input, a period outside the value share's term or overlapping another "
        "report, or a share of less than one minor unit",
    )
    def post(self, data: dict, award_id: int) -> Any:
        """Report value the solution realised in a period: the terms' share of it is owed to
        the co-creators, split by their confirmed weights."""
        return reports.report_value(api_user(), award_id, data)


@blp.route(f"/value-reports/<{ID}:report_id>/correction")
class ValueReportCorrection(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(CorrectionInputSchema)
    @blp.response(201, ValueReportSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The report was reversed already, or part of its share was paid out",
    )
    def post(self, data: dict, report_id: int) -> Any:
        """Correct a report: it is reversed and a new report filed, both or neither. Answers
        the new report."""
        reason = data.pop("reason")
        return reports.correct_report(api_user(), report_id, reason, data)


@blp.route(f"/value-reports/<{ID}:report_id>/reversal")
class ValueReportReversal(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ReversalInputSchema)
    @blp.response(200, ValueReportSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The report was reversed already, or part of its share was paid out",
    )
    def post(self, data: dict, report_id: int) -> Any:
        """Withdraw a report: its journal is reversed."""
        return reports.reverse_report(api_user(), report_id, data["reason"])


@blp.route(f"/value-reports/<{ID}:report_id>/payment")
class ValueReportPayment(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(201, PaymentSchema)
    @problems(
        401,
        403,
        404,
        409,
        _409="Nothing is due on this report, or the payment provider refused",
    )
    def post(self, report_id: int) -> Any:
        """Pay what a report made the organization owe. With the sandbox provider it settles
        at once; with Stripe, pay at `checkout_url`."""
        return payments.pay_value_share(api_user(), report_id)
