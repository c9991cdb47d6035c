"""JSON API for payouts: a solver's payout account, and payout batches with four eyes.

Thin resources: parse with marshmallow, call one service, dump. Only platform finance staff
handle batches (others get 403); the finance user who prepared a batch cannot approve it (403);
a batch that is no longer prepared cannot be approved or rejected (409). Money is integer minor
units.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.api import ID, problem_responses
from marketplace.auth import READ_AUTH, WRITE_AUTH, api_user, token_area
from marketplace.pagination import CursorQuerySchema
from marketplace.payouts import batches as services
from marketplace.payouts.accounts import payout_account_of, start_onboarding
from marketplace.payouts.models import PayoutAccount, PayoutBatch
from marketplace.payouts.schemas import (
    ApprovalInputSchema,
    BatchDetailSchema,
    BatchInputSchema,
    BatchSchema,
    LinePageSchema,
    LineSchema,
    MyPayoutAccountSchema,
    OnboardingSchema,
    ProgressSchema,
    RejectionInputSchema,
    ReleaseInputSchema,
    Shown,
)

blp = Blueprint(
    "payouts_api",
    __name__,
    url_prefix="/api/v1",
    description="Payout accounts, and payout batches with four eyes",
)
token_area(blp, "payouts")


PROBLEMS = {
    401: "Not authenticated: no credentials where they are needed, an unknown or revoked "
    "token, or a write sent with only the session cookie (writes need a bearer token)",
    403: "Only platform finance staff handle payout batches",
    404: "No such payout batch (or line)",
    409: "The batch's (or line's) state does not allow this now",
    422: "Invalid input: `errors` names each field and what is wrong with it",
}


problems = problem_responses(blp, PROBLEMS)


def progress_of(batch: PayoutBatch) -> dict[str, Any]:
    progress = services.batch_progress(batch)
    return {
        "batch_id": batch.id,
        "status": batch.status,
        "line_count": batch.line_count,
        "done": progress.done,
        "waiting_for_finance": progress.waiting,
        "counts": progress.counts,
    }


def _account(account: PayoutAccount | None) -> Shown | None:
    return None if account is None else Shown(account, sandbox=account.provider == "sandbox")


def _detail(user: Any, batch: PayoutBatch) -> Shown:
    """The batch, its progress and the first page of its lines (the rest: its lines list)."""
    first = services.lines_page(user, batch.id)
    return Shown(
        batch, lines=first.items, lines_next_cursor=first.next_cursor, progress=progress_of(batch)
    )


@blp.route("/me/payout-account")
class MyPayoutAccount(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, MyPayoutAccountSchema)
    @problems(401)
    def get(self) -> Any:
        """Your payout account (`account` is null until you start onboarding)."""
        return {"account": _account(payout_account_of(api_user()))}

    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, OnboardingSchema)
    @problems(401, 409, _409="The payment provider refused, or the account is another's")
    def post(self) -> Any:
        """Open or continue your payout account; finish onboarding at `onboarding_url`
        (null when the account can receive payouts already, as in the sandbox)."""
        account, url = start_onboarding(api_user())
        return {"account": _account(account), "onboarding_url": url}


@blp.route("/payout-batches")
class PayoutBatches(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, BatchSchema(many=True))
    @problems(401, 403)
    def get(self) -> Any:
        """The latest payout batches, newest first (platform finance staff)."""
        return services.batches(api_user())

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(BatchInputSchema)
    @blp.response(201, BatchDetailSchema)
    @problems(
        401, 403, 409, 422,
        _409="Nobody is owed the minimum with a payout account that can receive money, "
        "or a balance changed meanwhile",
    )  # fmt: skip
    def post(self, data: dict) -> Any:
        """Prepare a batch: every solver owed at least `minimum` in `currency` whose payout
        account can receive money; each amount is reserved until a second finance user
        approves or anyone on the finance desk rejects."""
        user = api_user()
        return _detail(user, services.prepare_batch(user, data["currency"], data["minimum"]))


@blp.route(f"/payout-batches/<{ID}:batch_id>")
class PayoutBatchItem(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, BatchDetailSchema)
    @problems(401, 403, 404)
    def get(self, batch_id: int) -> Any:
        """One batch, its progress and the first page of its lines (`lines_next_cursor`: the
        next page of its lines list)."""
        user = api_user()
        return _detail(user, services.get_batch(user, batch_id))


@blp.route(f"/payout-batches/<{ID}:batch_id>/lines")
class PayoutBatchLines(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, LinePageSchema)
    @problems(401, 403, 404, 422)
    def get(self, args: dict, batch_id: int) -> Any:
        """The batch's lines in id order, a page at a time: pass `next_cursor` as `cursor`
        for the next page."""
        return services.lines_page(api_user(), batch_id, args["cursor"], args["per_page"])


@blp.route(f"/payout-batches/<{ID}:batch_id>/progress")
class PayoutBatchProgress(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, ProgressSchema)
    @problems(401, 403, 404)
    def get(self, batch_id: int) -> Any:
        """How many lines are in each state; `done` counts the paid and failed ones."""
        return progress_of(services.get_batch(api_user(), batch_id))


@blp.route(f"/payout-batches/<{ID}:batch_id>/approval")
class PayoutBatchApproval(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ApprovalInputSchema)
    @blp.response(200, BatchDetailSchema)
    @problems(
        401, 403, 404, 409, 422,
        _403="Not platform finance staff, the finance user who prepared the batch (four "
        "eyes), or no second factor set up",
        _409="The batch is not waiting for approval",
        _422="`code` is not a current code of your authenticator app, or was used already",
    )  # fmt: skip
    def post(self, data: dict, batch_id: int) -> Any:
        """Approve a prepared batch (a finance user other than its preparer) with a fresh
        `code` of your authenticator app (asked for every approval); the money is sent in the
        background: follow it with the progress endpoint."""
        user = api_user()
        batch = services.approve_batch(user, batch_id, data["code"])
        return _detail(user, services.get_batch(user, batch.id))


@blp.route(f"/payout-batches/<{ID}:batch_id>/resending")
class PayoutBatchResending(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, BatchDetailSchema)
    @problems(401, 403, 404, 409, _409="The batch is not approved and still sending")
    def post(self, batch_id: int) -> Any:
        """Run the sending job for an approved batch now instead of at the scheduler's next
        round: it sends the lines that are due (unanswered lines are retried by themselves,
        with backoff); each line keeps its idempotency key, so nothing is paid twice."""
        user = api_user()
        services.resend_batch(user, batch_id)
        return _detail(user, services.get_batch(user, batch_id))


@blp.route(f"/payout-batches/<{ID}:batch_id>/rejection")
class PayoutBatchRejection(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(RejectionInputSchema)
    @blp.response(200, BatchDetailSchema)
    @problems(401, 403, 404, 409, 422, _409="The batch is not waiting for approval")
    def post(self, data: dict, batch_id: int) -> Any:
        """Reject a prepared batch with a reason: its reservations are voided and the solvers
        are owed again."""
        user = api_user()
        return _detail(user, services.reject_batch(user, batch_id, data["reason"]))


@blp.route(f"/payout-lines/<{ID}:line_id>/release")
class PayoutLineRelease(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ReleaseInputSchema)
    @blp.response(200, LineSchema)
    @problems(
        401, 403, 404, 409, 422,
        _409="The line is paid, settled already, or still being tried automatically (it can "
        "be released only once no idempotency key brought an answer); or the provider made "
        "the transfer after all (the line is paid now), or could not be asked",
    )  # fmt: skip
    def post(self, data: dict, line_id: int) -> Any:
        """Release a payout line the provider never answered (`waiting_for_finance`): its
        reservation is voided and the solver is owed the amount again; who released it and
        why are recorded."""
        return services.release_line(api_user(), line_id, data["reason"])
