"""HTML pages for payouts: a solver's payout account, and the finance desk's batches."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from marshmallow import ValidationError

from marketplace.accounts.services import require_platform_finance
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.pagination import CursorQuerySchema
from marketplace.payouts import batches
from marketplace.payouts.accounts import continue_onboarding, start_onboarding
from marketplace.payouts.forms import parse_batch_form
from marketplace.payouts.models import BatchStatus, PayoutBatch, PayoutLine
from marketplace.payouts.schemas import Shown, rejecter

bp = Blueprint("payouts", __name__)


@bp.route("/me/payout-account", methods=["GET", "POST"])
@login_required
def onboard() -> ResponseReturnValue:
    """POST opens or continues the payout account; GET (the provider's refresh link) only
    continues one. Either way, off to the provider's onboarding when it is needed."""
    try:
        if request.method == "POST":
            _, url = start_onboarding(current_user)
        else:
            url = continue_onboarding(current_user)
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("value.my_earnings"))
    if url:
        return redirect(url)
    if request.method == "POST":
        flash("Your payout account can receive payouts.", "success")
    return redirect(url_for("value.my_earnings"))


@bp.route("/me/payout-account/done")
@login_required
def onboarding_done() -> ResponseReturnValue:
    flash("Thank you: the payment provider will confirm your payout account.", "info")
    return redirect(url_for("value.my_earnings"))


# --- The finance desk: payout batches with four eyes (platform finance staff only). ---


def _people(batch: PayoutBatch) -> Shown:
    return Shown(batch, rejected_by=rejecter(batch))


def _preview(currency: str, minimum: int) -> dict:
    candidates = batches.payable_candidates(currency, minimum)
    total = sum(c.amount for c in candidates)
    return {"currency": currency, "minimum": minimum, "count": len(candidates), "total": total}


def _list_page(form: Mapping[str, str], errors: dict, preview: dict | None, status: int = 200):
    listed = [_people(b) for b in batches.batches(current_user)]
    return (
        render_template(
            "payouts/batches.html", batches=listed, form=form, errors=errors, preview=preview
        ),
        status,
    )


@bp.route("/finance/payouts")
@login_required
def batch_list() -> ResponseReturnValue:
    """The batches, and the "Prepare a batch" form; with ?currency=&minimum= a preview of
    who would be paid."""
    require_platform_finance(current_user)
    form = {
        "currency": request.args.get("currency", "USD"),
        "minimum": request.args.get("minimum", ""),
    }
    if "minimum" not in request.args:
        return _list_page(form, {}, None)
    currency, minimum, errors = parse_batch_form(request.args)
    if errors or minimum is None:
        return _list_page(form, errors, None, 422)
    return _list_page(form, {}, _preview(currency, minimum))


@bp.route("/finance/payouts", methods=["POST"])
@login_required
def prepare() -> ResponseReturnValue:
    require_platform_finance(current_user)
    form = {
        "currency": request.form.get("currency", ""),
        "minimum": request.form.get("minimum", ""),
    }
    currency, minimum, errors = parse_batch_form(request.form)
    if errors or minimum is None:
        flash("Please correct the highlighted fields.", "error")
        return _list_page(form, errors, None, 422)
    try:
        batch = batches.prepare_batch(current_user, currency, minimum)
    except Invalid as error:
        flash(error.message, "error")
        return _list_page(form, error.errors, None, 422)
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("payouts.batch_list"))
    flash(
        f"Batch {batch.id} prepared: {batch.line_count} payouts reserved. "
        "A second finance user must approve it.",
        "success",
    )
    return redirect(url_for("payouts.batch_page", batch_id=batch.id))


def _page_args() -> dict:
    """``cursor`` and ``per_page`` of the lines list; a bad one is a field error (422)."""
    args = {k: v for k, v in request.args.items() if k in ("cursor", "per_page") and v != ""}
    try:
        return CursorQuerySchema().load(args)
    except ValidationError as error:
        raise Invalid("Please correct the page asked for.", error.normalized_messages()) from error


@bp.route("/finance/payouts/<int:batch_id>")
@login_required
def batch_page(batch_id: int, status: int = 200) -> ResponseReturnValue:
    """The batch, its progress (one grouped query) and a page of its lines (keyset)."""
    batch = batches.get_batch(current_user, batch_id)
    paging = _page_args() if request.method == "GET" else {}
    progress = batches.batch_progress(batch)
    page = render_template(
        "payouts/batch.html",
        batch=_people(batch),
        lines=batches.lines_page(current_user, batch.id, **paging),
        counts=progress.counts,
        done=progress.done,
        waiting=progress.waiting,
        waits_for_finance=batches.waits_for_finance,
    )
    return page, status


@bp.route("/finance/payouts/<int:batch_id>/approve", methods=["POST"])
@login_required
def approve(batch_id: int) -> ResponseReturnValue:
    try:
        batch = batches.approve_batch(current_user, batch_id, request.form.get("code", ""))
    except (Conflict, Forbidden, Invalid) as error:
        if isinstance(error, Forbidden) and not current_user.is_platform_finance:
            raise
        flash(" ".join(error.errors.get("code", [])) or error.message, "error")
        return redirect(url_for("payouts.batch_page", batch_id=batch_id))
    db.session.refresh(batch)
    if batch.status == BatchStatus.COMPLETED:
        flash(f"Batch {batch.id} approved and sent.", "success")
    else:
        flash(f"Batch {batch.id} approved: the payouts are being sent.", "success")
    return redirect(url_for("payouts.batch_page", batch_id=batch.id))


@bp.route("/finance/payouts/<int:batch_id>/resend", methods=["POST"])
@login_required
def resend(batch_id: int) -> ResponseReturnValue:
    try:
        batches.resend_batch(current_user, batch_id)
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash(f"Batch {batch_id}: the lines still open are being sent again.", "success")
    return redirect(url_for("payouts.batch_page", batch_id=batch_id))


@bp.route("/finance/payouts/<int:batch_id>/reject", methods=["POST"])
@login_required
def reject(batch_id: int) -> ResponseReturnValue:
    try:
        batch = batches.reject_batch(current_user, batch_id, request.form.get("reason", ""))
    except Invalid as error:
        flash(" ".join(error.errors.get("reason", [error.message])), "error")
        return redirect(url_for("payouts.batch_page", batch_id=batch_id))
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("payouts.batch_page", batch_id=batch_id))
    flash(f"Batch {batch.id} rejected: its reservations are voided.", "success")
    return redirect(url_for("payouts.batch_page", batch_id=batch.id))


@bp.route("/finance/payouts/lines/<int:line_id>/release", methods=["POST"])
@login_required
def release(line_id: int) -> ResponseReturnValue:
    """Release a line the provider never answered: the solver is owed its amount again."""
    require_platform_finance(current_user)
    line = db.session.get(PayoutLine, line_id)
    if line is None:
        raise NotFound("No such payout line.")
    batch_page_url = url_for("payouts.batch_page", batch_id=line.batch_id)
    try:
        batches.release_line(current_user, line_id, request.form.get("reason", ""))
    except Invalid as error:
        flash(" ".join(error.errors.get("reason", [error.message])), "error")
        return redirect(batch_page_url)
    except Conflict as error:
        flash(error.message, "error")
        return batch_page(line.batch_id, status=409)
    flash(f"Line {line_id} released: the solver is owed its amount again.", "success")
    return redirect(batch_page_url)
