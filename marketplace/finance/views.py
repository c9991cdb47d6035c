"""HTML pages of the finance desk."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError

from marketplace.errors import Invalid
from marketplace.finance import dashboard as figures
from marketplace.finance import exports, journal, reconciliation, services, statements
from marketplace.finance.schemas import (
    BalanceQuerySchema,
    ExportPeriodSchema,
    JournalQuerySchema,
    ReconciliationQuerySchema,
    StatementQuerySchema,
    TrialBalanceAccountsQuerySchema,
    TrialBalanceQuerySchema,
)
from marketplace.pagination import CursorQuerySchema
from marketplace.rate_limits import export_limit

bp = Blueprint("finance", __name__, url_prefix="/finance")

DATES = "Give days as YYYY-MM-DD, e.g. 2026-01-31."


def _query(schema: Schema, message: str) -> dict:
    """The query string through ``schema``; empty form fields mean "not given"."""
    args = {k: v for k, v in request.args.items() if v != ""}
    try:
        return schema.load(args)
    except ValidationError as error:
        raise Invalid(message, error.normalized_messages()) from error


@bp.route("/")
@login_required
def dashboard() -> ResponseReturnValue:
    return render_template("finance/dashboard.html", charts=figures.dashboard_charts(current_user))


@bp.route("/charts/<name>.svg")
@login_required
def chart(name: str) -> ResponseReturnValue:
    return Response(figures.chart_svg(current_user, name), mimetype="image/svg+xml")


@bp.route("/journal")
@login_required
def journal_page() -> ResponseReturnValue:
    query = _query(JournalQuerySchema(), DATES)
    cursor, per_page = query.pop("cursor"), query.pop("per_page")
    filters = journal.JournalFilters(**query)
    result = journal.journal_page(current_user, filters, cursor, per_page)
    return render_template("finance/journal.html", result=result, filters=filters)


@bp.route("/accounts")
@login_required
def accounts() -> ResponseReturnValue:
    query = _query(CursorQuerySchema(), "Follow the links between pages.")
    page = statements.accounts(current_user, query["cursor"], query["per_page"])
    return render_template("finance/accounts.html", page=page)


@bp.route("/statement")
@login_required
def statement() -> ResponseReturnValue:
    query = _query(StatementQuerySchema(), DATES)
    result = statements.account_statement(
        current_user, query["account"], query["cursor"], query["per_page"]
    )
    return render_template("finance/statement.html", statement=result, query=query)


@bp.route("/balance")
@login_required
def balance() -> ResponseReturnValue:
    query = _query(BalanceQuerySchema(), DATES)
    result = statements.balance_as_of(current_user, query["account"], query["as_of"])
    return render_template("finance/balance.html", result=result)


@bp.route("/reconciliation")
@login_required
def reconciliation_page() -> ResponseReturnValue:
    query = _query(ReconciliationQuerySchema(), DATES)
    result = reconciliation.reconcile(current_user, query["start"], query["end"])
    return render_template("finance/reconciliation.html", result=result)


@bp.route("/provider-discrepancies")
@login_required
def provider_discrepancies() -> ResponseReturnValue:
    query = _query(CursorQuerySchema(), "Follow the links between pages.")
    page = reconciliation.provider_discrepancies(current_user, query["cursor"], query["per_page"])
    return render_template("finance/provider_discrepancies.html", page=page)


@bp.route("/exports")
@login_required
def export_list() -> ResponseReturnValue:
    """The book exports, and the form that requests one; refreshes itself while any runs."""
    listed = exports.list_exports(current_user)
    return render_template(
        "finance/exports.html", exports=listed, running=exports.in_progress(listed)
    )


@bp.route("/exports", methods=["POST"])
@login_required
@export_limit
def request_export() -> ResponseReturnValue:
    try:
        period = ExportPeriodSchema().load(
            {k: v for k in ("start", "end") if (v := request.form.get(k, ""))}
        )
    except ValidationError as error:
        raise Invalid(exports.PERIOD, error.normalized_messages()) from error
    try:
        export = exports.request_export(
            current_user, request.form.get("format", ""), period["start"], period["end"]
        )
    except Invalid as error:
        if set(error.errors) - {"format"}:
            raise
        flash(" ".join(error.errors.get("format", [error.message])), "error")
        return redirect(url_for("finance.export_list"))
    if export.status == "done":
        flash(f"Export {export.id} is ready: {export.rows} rows written.", "success")
    elif export.status == "failed":
        flash(f"Export {export.id} failed: {export.error}", "error")
    else:
        flash(f"Export {export.id} is being written; this page follows its progress.", "info")
    return redirect(url_for("finance.export_list"))


@bp.route("/exports/<int:export_id>/download")
@login_required
def export_download(export_id: int) -> ResponseReturnValue:
    found = exports.export_file(current_user, export_id)
    response = send_file(
        found.path, mimetype=found.mimetype, as_attachment=True, download_name=found.download_name
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


AS_OF = "Give the date as ISO 8601 with a time zone, e.g. 2026-01-31T23:59:59Z."


@bp.route("/trial-balance")
@login_required
def trial_balance() -> ResponseReturnValue:
    as_of = _query(TrialBalanceQuerySchema(), AS_OF)["as_of"]
    result = services.trial_balance(current_user, as_of)
    return render_template("finance/trial_balance.html", result=result, as_of=as_of)


@bp.route("/trial-balance/accounts")
@login_required
def trial_balance_accounts() -> ResponseReturnValue:
    query = _query(TrialBalanceAccountsQuerySchema(), AS_OF)
    page = services.trial_balance_accounts(
        current_user, query["type"], query["kind"], query["currency"], query["as_of"],
        query["cursor"], query["per_page"],
    )  # fmt: skip
    return render_template("finance/trial_balance_accounts.html", page=page, query=query)
