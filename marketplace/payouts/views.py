"""HTML pages for payouts: a solver's payout account, and the finance desk's batches."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.errors import Conflict
from marketplace.payouts.accounts import start_onboarding

bp = Blueprint("payouts", __name__)


@bp.route("/me/payout-account", methods=["GET", "POST"])
@login_required
def onboard() -> ResponseReturnValue:
    """Open or continue the payout account; off to the provider's onboarding when needed."""
    try:
        _, url = start_onboarding(current_user)
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("proposals.mine"))
    if url:
        return redirect(url)
    flash("Your payout account can receive payouts.", "success")
    return redirect(url_for("proposals.mine"))


@bp.route("/me/payout-account/done")
@login_required
def onboarding_done() -> ResponseReturnValue:
    flash("Thank you: the payment provider will confirm your payout account.", "info")
    return redirect(url_for("proposals.mine"))
