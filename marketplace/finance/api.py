"""JSON API for the finance desk: the trial balance, journal, statements, balances,
reconciliation, chart figures and exports.

Thin resources: parse with marshmallow, call one service, dump. Platform finance staff read
everything; an organization's finance members and owners read their organization's accounts
and the transfers that touch them (others' are 404). Money is integer minor units.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.api import ID, Annotated, problem_responses
from marketplace.auth import READ_AUTH, WRITE_AUTH, api_user, token_area, token_scope
from marketplace.finance import dashboard, exports, journal, reconciliation, services, statements
from marketplace.finance.schemas import (
    AccountPageSchema,
    BalanceQuerySchema,
    BalanceSchema,
    DashboardSchema,
    ExportInputSchema,
    ExportSchema,
    JournalPageSchema,
    JournalQuerySchema,
    ProviderDiscrepancyPageSchema,
    ReconciliationQuerySchema,
    ReconciliationSchema,
    StatementQuerySchema,
    StatementSchema,
    TransferSchema,
    TrialBalanceAccountsQuerySchema,
    TrialBalanceAccountsSchema,
    TrialBalanceQuerySchema,
    TrialBalanceSchema,
)
from marketplace.pagination import CursorQuerySchema
from marketplace.rate_limits import export_limit

blp = Blueprint("finance_api", __name__, url_prefix="/api/v1", description="The book")
token_area(blp, "finance")


PROBLEMS = {
    401: "Not authenticated: sign in, or send an API token",
    403: "Neither platform finance staff nor a finance member or owner of an organization",
    404: "No such account or transfer, or one outside your organization's accounts",
    409: "The export is not done yet (or failed): no file to download",
    422: "Invalid query: `errors` names each field and what is wrong with it",
}


problems = problem_responses(blp, PROBLEMS)


STAFF_ONLY = "Only platform finance staff may read this"


@blp.route("/ledger/trial-balance")
class TrialBalance(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(TrialBalanceQuerySchema, location="query")
    @blp.response(200, TrialBalanceSchema)
    @problems(401, 403, _403=STAFF_ONLY)
    def get(self, query: dict) -> Any:
        """Posted debits, credits and balance per account type, kind and currency, with the
        totals per currency (platform finance staff); the accounts of a line are listed at
        /ledger/trial-balance/accounts."""
        return services.trial_balance(api_user(), query["as_of"])


@blp.route("/ledger/trial-balance/accounts")
class TrialBalanceAccounts(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(TrialBalanceAccountsQuerySchema, location="query")
    @blp.response(200, TrialBalanceAccountsSchema)
    @problems(401, 403, 422, _403=STAFF_ONLY)
    def get(self, query: dict) -> Any:
        """The accounts of one trial balance line, by code, a page at a time (`cursor`)."""
        return services.trial_balance_accounts(
            api_user(), query["type"], query["kind"], query["currency"], query["as_of"],
            query["cursor"], query["per_page"],
        )  # fmt: skip


@blp.route("/finance/transfers")
class Transfers(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(JournalQuerySchema, location="query")
    @blp.response(200, JournalPageSchema)
    @problems(401, 403)
    def get(self, query: dict) -> Any:
        """The journal, newest first, filtered, a page at a time: pass `next_cursor` as
        `cursor` for the next page (no total: the book is too long to count per request)."""
        cursor, per_page = query.pop("cursor"), query.pop("per_page")
        filters = journal.JournalFilters(**query)
        return journal.journal_page(api_user(), filters, cursor, per_page)


@blp.route(f"/finance/transfers/<{ID}:transfer_id>")
class TransferDetail(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, TransferSchema)
    @problems(401, 403, 404)
    def get(self, transfer_id: int) -> Any:
        """One transfer, with both accounts and its journal."""
        return journal.transfer_detail(api_user(), transfer_id)


@blp.route("/finance/accounts")
class Accounts(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, AccountPageSchema)
    @problems(401, 403, 422)
    def get(self, query: dict) -> Any:
        """The accounts you may read, by code, a page at a time (`cursor`), with their
        balances now."""
        return statements.accounts(api_user(), query["cursor"], query["per_page"])


@blp.route("/finance/statement")
class Statement(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(StatementQuerySchema, location="query")
    @blp.response(200, StatementSchema)
    @problems(401, 403, 404)
    def get(self, query: dict) -> Any:
        """One account's posted transfers, newest first in the order the book wrote them, a
        page at a time (`cursor`), each with the posted balance it left."""
        return statements.account_statement(
            api_user(), query["account"], query["cursor"], query["per_page"]
        )


@blp.route("/finance/balance")
class Balance(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(BalanceQuerySchema, location="query")
    @blp.response(200, BalanceSchema)
    @problems(401, 403, 404)
    def get(self, query: dict) -> Any:
        """One account's posted balance at the end of a day (UTC)."""
        return statements.balance_as_of(api_user(), query["account"], query["as_of"])


@blp.route("/finance/reconciliation")
class Reconciliation(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(ReconciliationQuerySchema, location="query")
    @blp.response(200, ReconciliationSchema)
    @problems(401, 403, 422, _403=STAFF_ONLY)
    def get(self, query: dict) -> Any:
        """The payment provider's totals against the ledger's cash account, per currency, and
        the provider's own payout transfers of a period (default: the last 30 days) against
        the payout lines, with every difference; and the webhooks recorded but not applied
        (platform finance staff)."""
        return reconciliation.reconcile(api_user(), query["start"], query["end"])


@blp.route("/finance/provider-discrepancies")
class ProviderDiscrepancies(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, ProviderDiscrepancyPageSchema)
    @problems(401, 403, 422, _403=STAFF_ONLY)
    def get(self, query: dict) -> Any:
        """What webhooks said that did not match what was sent (recorded, not applied),
        newest first, a page at a time (platform finance staff)."""
        return reconciliation.provider_discrepancies(api_user(), query["cursor"], query["per_page"])


@blp.route("/finance/charts")
class Charts(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, DashboardSchema)
    @problems(401, 403)
    def get(self) -> Any:
        """The figures behind the dashboard's charts: escrow held over time, payouts per
        month, value shared per organization."""
        return dashboard.dashboard(api_user())


# --- Book exports: requested here, written by a background job. ---

WRITE_401 = (
    "Not authenticated: no credentials, an unknown or revoked token, or a write sent with only "
    "the session cookie (writes need a bearer token)"
)


def _shown(export: Any) -> Annotated:
    done = export.status == "done"
    url = url_for("finance_api.ExportFile", export_id=export.id) if done else None
    return Annotated(export, file_url=url)


def _file_responses(function: Callable) -> Callable:
    """Document a 200 answer that is the export's file: text/csv or text/plain (hledger)."""
    for content_type in ("text/csv", "text/plain"):
        function = blp.response(
            200,
            {"type": "string", "format": "binary"},
            content_type=content_type,
            description="The file, as an attachment (`X-Content-Type-Options: nosniff`): "
            "text/csv for a CSV export, text/plain for an hledger journal",
        )(function)
    return function


@blp.route("/finance/exports")
class Exports(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, ExportSchema(many=True))
    @problems(401, 403, _403=STAFF_ONLY)
    def get(self) -> Any:
        """The latest book exports, newest first (platform finance staff)."""
        return [_shown(e) for e in exports.list_exports(api_user())]

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ExportInputSchema)
    @blp.response(202, ExportSchema)
    @problems(
        401, 403, 422, _401=WRITE_401, _403="Only platform finance staff may export the book",
        _422="Invalid input: `errors` names each field and what is wrong with it",
    )  # fmt: skip
    @token_scope(access="read")
    @export_limit
    def post(self, data: dict) -> Any:
        """Export every transfer, or those effective from `start` to `end`, as CSV or an
        hledger journal (platform finance staff): the
        file is written in the background; follow `status` and `rows` of `total` at
        /finance/exports/{export_id}, then download it from `file_url`."""
        export = exports.request_export(api_user(), data["format"], data["start"], data["end"])
        return _shown(export)


@blp.route(f"/finance/exports/<{ID}:export_id>")
class ExportItem(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, ExportSchema)
    @problems(401, 403, 404, _403=STAFF_ONLY, _404="No such export")
    def get(self, export_id: int) -> Any:
        """One export: its status and progress (`rows` written of `total` transfers)."""
        return _shown(exports.get_export(api_user(), export_id))


@blp.route(f"/finance/exports/<{ID}:export_id>/file")
class ExportFile(MethodView):
    @blp.doc(security=READ_AUTH)
    @_file_responses
    @problems(
        401, 403, 404, 409, _403=STAFF_ONLY,
        _404="No such export, or its file is no longer there",
    )  # fmt: skip
    def get(self, export_id: int) -> Response:
        """A finished export's file (409 while it is queued or running, or if it failed)."""
        found = exports.export_file(api_user(), export_id)
        response = send_file(
            found.path, mimetype=found.mimetype, as_attachment=True,
            download_name=found.download_name,
        )  # fmt: skip
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response
