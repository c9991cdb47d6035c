"""The Stripe provider: Checkout Sessions take a seeker's money into escrow, Refunds give back
what escrow still holds. Stripe confirms a payment later, through the webhook (webhooks.py).

Every request carries an idempotency key, so a retried request (by the SDK, or by a person
retrying after a failure) never takes or gives back money twice:
- funding: ``funding-<payment id>``, the Payment row being committed before Stripe is called;
- refund: ``refund-<challenge id>-<n>-<payment intent>`` for the n-th refund of a challenge.
  The refund's own Payment row only exists in the caller's transaction: a failed cancel rolls
  it back, and its id would not survive to a retry (PostgreSQL never hands it out again), so
  the key is built from what a retry of the same refund computes again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import stripe
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.payments.provider import (
    FundingStarted,
    PayoutAccountOpened,
    PayoutRequest,
    ProviderError,
    ProviderUnavailable,
    RefundDone,
)

#: Payment.external_id is a String(255).
EXTERNAL_ID_LENGTH = 255
#: A StripeClient does not retry unless told to. Every request carries an idempotency key, so a
#: retry after a network error, a 409 or a 5xx is safe (the SDK reuses the key).
NETWORK_RETRIES = 2


def _reason(error: stripe.StripeError) -> str:
    return error.user_message or str(error) or type(error).__name__


def _take(left: dict[str, int], amount: int) -> list[tuple[str, int]]:
    """Take ``amount`` from the sources in ``left`` in their order; updates ``left``."""
    taken: list[tuple[str, int]] = []
    for source, available in left.items():
        if amount <= 0:
            break
        part = min(available, amount)
        if part > 0:
            taken.append((source, part))
            amount -= part
    for source, part in taken:
        left[source] -= part
    return taken


def plan_refund(
    amount: int, fundings: Sequence[Payment], earlier: Sequence[int] = ()
) -> list[tuple[str, int]]:
    """Split ``amount`` over the fundings' PaymentIntents: (payment intent, amount) pairs.

    Greedy, newest funding first, each PaymentIntent giving at most what it paid minus what
    earlier refunds took from it. ``earlier`` holds the amounts of the challenge's earlier
    refunds, oldest first: replaying the same split tells what each of them took.
    """
    left: dict[str, int] = {}
    for funding in sorted(fundings, key=lambda f: f.id, reverse=True):
        if funding.payment_intent and funding.status == PaymentStatus.SETTLED:
            left[funding.payment_intent] = left.get(funding.payment_intent, 0) + funding.amount
    for taken in earlier:
        _take(left, taken)
    plan = _take(left, amount)
    short = amount - sum(part for _, part in plan)
    if short:
        raise ProviderError(
            f"Stripe holds {short} minor units less than the refund: "
            "part of this escrow was not paid through Stripe."
        )
    return plan


class StripeProvider:
    """Real money through Stripe: funding settles when the webhook confirms it."""

    name = "stripe"
    is_sandbox = False

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StripeProvider:
        base = config.get("STRIPE_API_BASE")
        return cls(
            stripe.StripeClient(
                config["STRIPE_SECRET_KEY"],
                base_addresses={"api": base} if base else None,
                max_network_retries=NETWORK_RETRIES,
            )
        )

    def start_funding(
        self, payment: Payment, *, description: str, success_url: str, cancel_url: str
    ) -> FundingStarted:
        metadata = {"payment_id": str(payment.id), "challenge_id": str(payment.challenge_id)}
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": payment.amount,
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(payment.id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        try:
            session = self.client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": f"funding-{payment.id}"}
            )
        except stripe.StripeError as error:
            raise ProviderError(_reason(error)) from error
        payment_intent = getattr(session, "payment_intent", None)  # not a dict: no .get()
        return FundingStarted(
            external_id=session.id,
            settled=False,
            checkout_url=session.url,
            payment_intent=payment_intent if isinstance(payment_intent, str) else None,
        )

    def refund(self, payment: Payment, fundings: list[Payment]) -> RefundDone:
        earlier = list(
            db.session.scalars(
                select(Payment.amount)
                .where(
                    Payment.challenge_id == payment.challenge_id,
                    Payment.kind == PaymentKind.REFUND,
                    Payment.status == PaymentStatus.SETTLED,
                    Payment.provider == self.name,
                    Payment.id != payment.id,
                )
                .order_by(Payment.id)
            )
        )
        ordinal = len(earlier) + 1
        same_currency = [f for f in fundings if f.currency == payment.currency]
        refund_ids = []
        for payment_intent, amount in plan_refund(payment.amount, same_currency, earlier):
            try:
                refund = self.client.v1.refunds.create(
                    params={
                        "payment_intent": payment_intent,
                        "amount": amount,
                        "metadata": {
                            "challenge_id": str(payment.challenge_id),
                            "refund": str(ordinal),
                        },
                    },
                    options={
                        "idempotency_key": (
                            f"refund-{payment.challenge_id}-{ordinal}-{payment_intent}"
                        )
                    },
                )
            except stripe.StripeError as error:
                raise ProviderError(_reason(error)) from error
            refund_ids.append(refund.id)
        joined = ",".join(refund_ids)
        return RefundDone(
            external_id=joined if len(joined) <= EXTERNAL_ID_LENGTH else refund_ids[0]
        )

    def open_payout_account(
        self, user_id: int, email: str, *, return_url: str, refresh_url: str
    ) -> PayoutAccountOpened:
        """A Connect Express account able to receive transfers, and its onboarding link."""
        try:
            account = self.client.v1.accounts.create(
                params={
                    "type": "express",
                    "email": email,
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"user_id": str(user_id)},
                },
                options={"idempotency_key": f"connect-account-{user_id}"},
            )
        except stripe.StripeError as error:
            raise ProviderError(_reason(error)) from error
        enabled = bool(getattr(account, "payouts_enabled", False))
        url = (
            None
            if enabled
            else self.onboarding_link(account.id, return_url=return_url, refresh_url=refresh_url)
        )
        return PayoutAccountOpened(
            account.id, enabled, bool(getattr(account, "details_submitted", False)), url
        )

    def onboarding_link(self, external_id: str, *, return_url: str, refresh_url: str) -> str:
        try:
            link = self.client.v1.account_links.create(
                params={
                    "account": external_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        except stripe.StripeError as error:
            raise ProviderError(_reason(error)) from error
        return link.url

    def send_payout(self, request: PayoutRequest) -> str:
        """A Connect transfer from the platform's balance to the solver's account."""
        try:
            transfer = self.client.v1.transfers.create(
                params={
                    "amount": request.amount,
                    "currency": request.currency.lower(),
                    "destination": request.destination,
                    "description": request.description,
                    "metadata": request.metadata,
                },
                options={"idempotency_key": request.key},
            )
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise ProviderUnavailable(_reason(error)) from error
        except stripe.APIError as error:  # Stripe's own 5xx: the outcome is unknown
            raise ProviderUnavailable(_reason(error)) from error
        except stripe.StripeError as error:
            raise ProviderError(_reason(error)) from error
        return transfer.id
