"""HTML pages for value sharing: a solver's earnings, and an award's page (contributions,
value reports, corrections, paying the share).

Each form posts to one service and comes back with a message. A refused input comes back to
the award's page with the values typed and the field errors (422); a refused state (a
Conflict) is a message; 404 and 403 stay what the services say.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ledger import format_minor
from ledger.currencies import exponent as currency_exponent
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.extensions import db
from marketplace.forms import flash_error
from marketplace.payments.models import PaymentStatus
from marketplace.payouts.accounts import payout_account_of
from marketplace.rate_limits import export_limit
from marketplace.value import contributions, earnings, forms, reports
from marketplace.value import share_payments as payments
from marketplace.value.models import ValueReport

bp = Blueprint("value", __name__)


@bp.route("/me/earnings")
@login_required
def my_earnings() -> ResponseReturnValue:
    return render_template(
        "value/earnings.html",
        earnings=earnings.earnings(current_user),
        lines=earnings.all_lines(current_user),
        payout_account=payout_account_of(current_user),
        waiting=earnings.awaiting_confirmation(current_user),
    )


@bp.route("/me/earnings.csv")
@login_required
@export_limit
def earnings_csv() -> ResponseReturnValue:
    return Response(
        earnings.earnings_csv(current_user),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="earnings.csv"'},
    )


@bp.route("/contributions/<int:contribution_id>/confirm", methods=["POST"])
@login_required
def confirm(contribution_id: int) -> ResponseReturnValue:
    contribution = contributions.confirm_contribution(current_user, contribution_id)
    flash("Contribution confirmed: it counts in the value shares reported from now on.",
          "success")  # fmt: skip
    if request.form.get("back") == "award":
        return redirect(url_for("value.award", award_id=contribution.award_id))
    return redirect(url_for("value.my_earnings"))


def _award_page(
    award_id: int,
    status: int = 200,
    errors: dict[str, dict[str, list[str]]] | None = None,
    values: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    """The award's page; ``errors`` and ``values`` by form (``record``, ``report``,
    ``correct-<report id>``, ``reverse-<report id>``) bring back a refused form as typed."""
    overview = earnings.award_overview(current_user, award_id)
    currency = overview.award.currency
    return render_template(
        "value/award.html",
        o=overview,
        award=overview.award,
        exponent=currency_exponent(currency),
        major=lambda amount: format_minor(amount, currency, grouped=True),
        errors=errors or {},
        values=values or {},
    ), status


@bp.route("/awards/<int:award_id>")
@login_required
def award(award_id: int) -> ResponseReturnValue:
    return _award_page(award_id)


def _back(award_id: int, anchor: str) -> ResponseReturnValue:
    return redirect(url_for("value.award", award_id=award_id, _anchor=anchor))


def _refused(
    award_id: int, form_name: str, error: Invalid | Conflict, errors: dict | None = None
) -> ResponseReturnValue:
    """A refused form: its field errors on the page, with what was typed (422); a refused
    state is a message on the page as it is."""
    flash_error(error)
    if isinstance(error, Conflict):
        return _back(award_id, "reports")
    return _award_page(
        award_id,
        status=422,
        errors={form_name: errors or error.errors},
        values={form_name: request.form.to_dict()},
    )


@bp.route("/awards/<int:award_id>/contributions", methods=["POST"])
@login_required
def record_contribution(award_id: int) -> ResponseReturnValue:
    weight = forms.weight_input(request.form.get("weight"))
    email = (request.form.get("email") or "").strip()
    description = request.form.get("description", "")
    try:
        if weight is None:
            # Who may not record contributions hears so (404, 403) before any input error.
            contributions.record_contribution(current_user, award_id, email, 0, description)
        contribution = contributions.record_contribution(
            current_user, award_id, email, weight, description
        )
    except Invalid as error:
        return _refused(award_id, "record", error)
    flash(
        f"Contribution recorded for {contribution.user.name}: it counts once they confirm it.",
        "success",
    )
    return _back(award_id, "contributions")


def _check_reporter(award_id: int, doing: str) -> None:
    """404 for those who may not see the award, 403 for those who may not report on it."""
    earnings.award_overview(current_user, award_id)
    reports.seeker_award(current_user, award_id, doing)


@bp.route("/awards/<int:award_id>/value-reports", methods=["POST"])
@login_required
def report(award_id: int) -> ResponseReturnValue:
    award = earnings.award_overview(current_user, award_id).award
    data, errors = forms.report_input(request.form, award.currency)
    try:
        if errors:
            _check_reporter(award_id, "report value")
            raise Invalid("Please correct the highlighted fields.", errors)
        filed = reports.report_value(current_user, award_id, data)
    except (Invalid, Conflict) as error:
        return _refused(award_id, "report", error)
    flash(
        f"Value reported: {format_minor(filed.share_amount, filed.currency, grouped=True)} "
        f"{filed.currency} is now owed to the co-creators.",
        "success",
    )
    return _back(award_id, f"report-{filed.id}")


def _report(report_id: int) -> ValueReport:
    found = db.session.get(ValueReport, report_id)
    if found is None:
        raise NotFound("No such value report.")
    earnings.award_overview(current_user, found.award_id)  # 404 for outsiders
    return found


@bp.route("/value-reports/<int:report_id>/correction", methods=["POST"])
@login_required
def correct(report_id: int) -> ResponseReturnValue:
    found = _report(report_id)
    data, errors = forms.report_input(request.form, found.currency)
    reason, reason_errors = forms.reason_input(request.form)
    errors.update(reason_errors)
    form_name = f"correct-{report_id}"
    try:
        if errors:
            _check_reporter(found.award_id, "correct value reports")
            raise Invalid("Please correct the highlighted fields.", errors)
        replacement = reports.correct_report(current_user, report_id, reason, data)
    except (Invalid, Conflict) as error:
        return _refused(found.award_id, form_name, error)
    flash(
        f"Report {report_id} reversed and replaced by report {replacement.id}: "
        f"{format_minor(replacement.share_amount, replacement.currency, grouped=True)} "
        f"{replacement.currency} owed for the period.",
        "success",
    )
    return _back(found.award_id, f"report-{replacement.id}")


@bp.route("/value-reports/<int:report_id>/reversal", methods=["POST"])
@login_required
def reverse(report_id: int) -> ResponseReturnValue:
    found = _report(report_id)
    try:
        reports.reverse_report(current_user, report_id, request.form.get("reason", ""))
    except (Invalid, Conflict) as error:
        return _refused(found.award_id, f"reverse-{report_id}", error)
    flash(f"Report {report_id} withdrawn: its share is no longer owed.", "success")
    return _back(found.award_id, f"report-{report_id}")


@bp.route("/value-reports/<int:report_id>/payment", methods=["POST"])
@login_required
def pay(report_id: int) -> ResponseReturnValue:
    found = _report(report_id)
    try:
        payment = payments.pay_value_share(current_user, report_id)
    except (Invalid, Conflict) as error:
        flash_error(error)
        return _back(found.award_id, f"report-{report_id}")
    if payment.status == PaymentStatus.SETTLED:
        flash(
            f"Paid {format_minor(payment.amount, payment.currency, grouped=True)} "
            f"{payment.currency}: the value share of report {report_id} is settled.",
            "success",
        )
        return _back(found.award_id, f"report-{report_id}")
    return redirect(payment.checkout_url)
