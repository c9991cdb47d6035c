"""POST /webhooks/stripe: Stripe tells us what happened to a payment.

Only a request signed with STRIPE_WEBHOOK_SECRET, and signed within the last 5 minutes, is
believed; anything else is a 400 problem and changes nothing. The SDK's ``construct_event``
checks only that a signature is not too old: one timestamped in the future beyond a small
clock skew (``FUTURE_SKEW``) is refused here too, or a signature made for later could be
held back and replayed. The endpoint is exempt from
CSRF (Stripe has no session; the signature is the proof). Without a webhook secret (sandbox
mode, where payments settle at once) the endpoint does not exist: 404.
"""

from __future__ import annotations

import time

import stripe
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from marketplace.errors import problem
from marketplace.extensions import csrf
from marketplace.payments.stripe_events import handle_stripe_event

bp = Blueprint("webhooks", __name__)
csrf.exempt(bp)
#: How far ahead of our clock a signature's timestamp may be (seconds).
FUTURE_SKEW = 300


def signed_at(header: str | None) -> int | None:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header (None: none, or not a number)."""
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            return int(value) if value.isdigit() else None
    return None


@bp.route("/webhooks/stripe", methods=["POST"])
def stripe_webhook() -> ResponseReturnValue:
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return problem(404, "Not found", "Stripe webhooks are not configured here.")
    try:
        event = stripe.Webhook.construct_event(
            request.get_data(), request.headers.get("Stripe-Signature"), secret
        )
    except stripe.SignatureVerificationError as error:
        return problem(400, "Bad request", f"The Stripe signature is not valid: {error}")
    except (ValueError, TypeError, AttributeError):
        # Signed, but not UTF-8, not JSON, or JSON that is no event object (the SDK assumes
        # one and fails on, say, a list).
        return problem(400, "Bad request", "The body is not a Stripe event.")
    timestamp = signed_at(request.headers.get("Stripe-Signature"))
    if timestamp is None or timestamp > time.time() + FUTURE_SKEW:
        return problem(
            400, "Bad request", "The Stripe signature's timestamp is in the future: refused."
        )
    data = event.to_dict()
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
        return problem(400, "Bad request", "The event has no id or type.")
    handled = handle_stripe_event(data)
    return jsonify({"received": True, "replayed": not handled})
