"""HTML: fund a need's prize pool, and the page the seeker returns to after paying."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ledger.currencies import exponent as currency_exponent
from marketplace.challenges.access import get_visible
from marketplace.challenges.forms import to_minor
from marketplace.errors import Conflict, Invalid
from marketplace.forms import flash_error
from marketplace.payments import services
from marketplace.payments.models import PaymentStatus

bp = Blueprint("payments", __name__)


@bp.route("/challenges/<int:challenge_id>/fund", methods=["POST"])
@login_required
def fund(challenge_id: int) -> ResponseReturnValue:
    challenge = get_visible(current_user, challenge_id)
    amount = _typed_amount("amount", challenge.currency)
    top_up_for = _typed_amount("amendment_prize_total", challenge.currency)
    try:
        payment = services.start_funding(
            current_user, challenge, amount, amendment_prize_total=top_up_for
        )
    except (Invalid, Conflict) as error:
        flash_error(error)
        return redirect(url_for("challenges.detail", challenge_id=challenge.id))
    if payment.status == PaymentStatus.SETTLED:
        flash("Sandbox payment settled: the escrow is funded.", "success")
        return redirect(url_for("challenges.detail", challenge_id=challenge.id))
    return redirect(payment.checkout_url)


def _typed_amount(field: str, currency: str) -> int | str | None:
    """A form's amount in major units as minor units; None when empty, the text unreadable."""
    typed = (request.form.get(field) or "").strip()
    return to_minor(typed, currency_exponent(currency)) if typed else None


@bp.route("/payments/<int:payment_id>/done")
@login_required
def funding_done(payment_id: int) -> ResponseReturnValue:
    payment, challenge = services.payment_for(current_user, payment_id)
    return render_template("payments/done.html", payment=payment, challenge=challenge)
