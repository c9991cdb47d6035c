"""JSON API for the finance desk: the trial balance, journal, statements, balances,
reconciliation, chart figures and exports.

Thin resources: parse with marshmallow, call one service, dump. Platform finance staff read
everything; an organization's finance members and owners read their organization's accounts
and the transfers that touch them (others' are 404). Money is integer minor units.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.api import ID, problem_responses
from marketplace.auth import READ_AUTH, api_user
from marketplace.finance import dashboard, exports, journal, reconciliation, services, statements
from marketplace.finance.schemas import (
    AccountSchema,
    BalanceQuerySchema,
    BalanceSchema,
    DashboardSchema,
    JournalPageSchema,
    JournalQuerySchema,
    ReconciliationSchema,
    StatementQuerySchema,
    StatementSchema,
    TransferSchema,
    TrialBalanceLineSchema,
    TrialBalanceQuerySchema,
)

blp = Blueprint("finance_api", __name__, url_prefix="/api/v1", description="The book")


PROBLEMS = {
    401: "Not authenticated: sign in, or send an API token",
    403: "Neither platform finance staff nor a finance member or owner of an organization",
    404: "No such account or transfer, or one outside your organization's accounts",
    422: "Invalid query: `errors` names each field and what is wrong with it",
}


problems = problem_responses(blp, PROBLEMS)


STAFF_ONLY = "Only platform finance staff may read this"


@blp.route("/ledger/trial-balance")
class TrialBalance(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(TrialBalanceQuerySchema, location="query")
    @blp.response(200, TrialBalanceLineSchema(many=True))
    @problems(401, 403, _403=STAFF_ONLY)
    def get(self, query: dict) -> list:
        """Every account's posted debits, credits and balance (platform finance staff)."""
        return services.trial_balance(api_user(), query["as_of"])


@blp.route("/finance/transfers")
class Transfers(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(JournalQuerySchema, location="query")
    @blp.response(200, JournalPageSchema)
    @problems(401, 403)
    def get(self, query: dict) -> Any:
        """The journal, newest first, filtered and a page at a time."""
        page, per_page = query.pop("page"), query.pop("per_page")
        return journal.journal_page(api_user(), journal.JournalFilters(**query), page, per_page)


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
    @blp.response(200, AccountSchema(many=True))
    @problems(401, 403)
    def get(self) -> Any:
        """The accounts you may read, with their balances now."""
        return statements.accounts(api_user())


@blp.route("/finance/statement")
class Statement(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(StatementQuerySchema, location="query")
    @blp.response(200, StatementSchema)
    @problems(401, 403, 404)
    def get(self, query: dict) -> Any:
        """One account's posted transfers between two days, with the running balance."""
        return statements.account_statement(
            api_user(), query["account"], query["start"], query["end"]
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
    @blp.response(200, ReconciliationSchema)
    @problems(401, 403, _403=STAFF_ONLY)
    def get(self) -> Any:
        """The payment provider's totals against the ledger's cash account, per currency,
        with every difference (platform finance staff)."""
        return reconciliation.reconcile(api_user())


@blp.route("/finance/charts")
class Charts(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, DashboardSchema)
    @problems(401, 403)
    def get(self) -> Any:
        """The figures behind the dashboard's charts: escrow held over time, payouts per
        month, value shared per organization."""
        return dashboard.dashboard(api_user())


def _download(format: str) -> Response:
    book = exports.export_book(api_user(), format)
    return Response(
        book.text,
        mimetype=book.mimetype,
        headers={"Content-Disposition": f'attachment; filename="{book.filename}"'},
    )


@blp.route("/finance/exports/csv")
class CsvExport(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, content_type="text/csv", description="One row per transfer")
    @problems(401, 403, _403=STAFF_ONLY)
    def get(self) -> Response:
        """Every transfer as CSV (platform finance staff)."""
        return _download("csv")


@blp.route("/finance/exports/hledger")
class HledgerExport(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, content_type="text/plain", description="An hledger journal")
    @problems(401, 403, _403=STAFF_ONLY)
    def get(self) -> Response:
        """The book as an hledger / ledger-cli journal (platform finance staff)."""
        return _download("hledger")
