"""The Stripe provider: Checkout Sessions take a seeker's money into escrow, Refunds give back
what escrow still holds. Stripe confirms a payment later, through the webhook (webhooks.py).

Every request carries an idempotency key, so a retried request (by the SDK, or by a person
retrying after a failure) never takes or gives back money twice:
- funding: ``funding-<payment id>``, the Payment row being committed before Stripe is called;
- refund: ``refund-<payment id>-<payment intent>``, one Refund per PaymentIntent a refund
  draws on. The refund's Payment row (and its reservation in the ledger) is committed with
  the cancel or close-out, and the ``send_refund`` job calls Stripe after that commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import select

from ledger import as_utc
from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.payments.provider import (
    FundingStarted,
    PayoutAccountOpened,
    PayoutRequest,
    ProviderError,
    ProviderTransfer,
    ProviderUnavailable,
    RateLimited,
    RefundDone,
)

#: Payment.external_id is a String(255).
EXTERNAL_ID_LENGTH = 255
#: A StripeClient does not retry unless told to. Every request carries an idempotency key, so a
#: retry after a network error, a 409 or a 5xx is safe (the SDK reuses the key). Payouts are
#: also retried line by line, later (``marketplace.payouts.sending``), so this stays small.
NETWORK_RETRIES = 1
#: Seconds to wait after a 429 that names no Retry-After, and the longest wait honoured.
RATE_LIMIT_WAIT = 1.0
RATE_LIMIT_WAIT_MAX = 3600.0
#: At most this many of a connected account's transfers are scanned for a lost payout.
FIND_SCAN_LIMIT = 1000
#: Stripe errors after which a payout may or may not have been made, or that say nothing of
#: the payout itself (our key or permissions): never a refusal that voids a line.
INDETERMINATE = (
    stripe.APIConnectionError,  # timeout, connection refused or dropped
    stripe.APIError,  # 5xx, 409 (a request with the same key still running)
    stripe.IdempotencyError,  # the key was used with other parameters: ask, do not guess
    stripe.AuthenticationError,
    stripe.PermissionError,
)


def _reason(error: stripe.StripeError) -> str:
    return error.user_message or str(error) or type(error).__name__


def _retry_after(error: stripe.StripeError) -> float:
    """Seconds a 429 asks us to wait (its ``Retry-After`` header), within sane bounds."""
    headers = error.headers or {}
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        wait = float(raw) if raw is not None else RATE_LIMIT_WAIT
    except ValueError:  # an HTTP date: rare, and a second is as good a guess
        wait = RATE_LIMIT_WAIT
    return min(max(wait, 0.0), RATE_LIMIT_WAIT_MAX)


def _unanswered(error: stripe.StripeError) -> ProviderUnavailable:
    """The provider error for a Stripe failure that is no definite refusal."""
    if isinstance(error, stripe.RateLimitError):
        return RateLimited(_reason(error), _retry_after(error))
    return ProviderUnavailable(_reason(error))


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
    amount: int,
    fundings: Sequence[Payment],
    earlier: Sequence[int | tuple[int, datetime]] = (),
) -> list[tuple[str, int]]:
    """Split ``amount`` over the fundings' PaymentIntents: (payment intent, amount) pairs.

    Greedy, newest funding first, each PaymentIntent giving at most what it paid minus what
    earlier refunds took from it. ``earlier`` holds the challenge's earlier refunds, oldest
    first, each an amount or (amount, when it was reserved): replaying the same split tells
    what each of them took. One reserved at a known time drew only on the fundings settled by
    then (money paid after a need closed is refunded after the refund of what it held).
    """
    left: dict[str, int] = {}
    settled_at: dict[str, datetime] = {}
    for funding in sorted(fundings, key=lambda f: f.id, reverse=True):
        if funding.payment_intent and funding.status == PaymentStatus.SETTLED:
            left[funding.payment_intent] = left.get(funding.payment_intent, 0) + funding.amount
            if getattr(funding, "settled_at", None) is not None:
                settled_at[funding.payment_intent] = as_utc(funding.settled_at)
    for refund in earlier:
        taken, reserved_at = refund if isinstance(refund, tuple) else (refund, None)
        drawable = {
            source: available
            for source, available in left.items()
            if reserved_at is None or settled_at.get(source, reserved_at) <= as_utc(reserved_at)
        }
        for source, part in _take(drawable, taken):
            left[source] -= part
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
                http_client=stripe.new_default_http_client(
                    timeout=float(config.get("STRIPE_TIMEOUT") or 30)
                ),
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
        """One Stripe Refund per PaymentIntent the refund draws on (``plan_refund``), each
        under the key ``refund-<payment id>-<payment intent>``: a retry replays what was made.

        A definite refusal is a ProviderError (naming the refunds already made for this
        payment, if any); a 429, a 5xx, a timeout or a dropped connection is
        ProviderUnavailable: try again later with the same keys."""
        earlier = list(
            db.session.execute(
                select(Payment.amount, Payment.created_at)
                .where(
                    Payment.challenge_id == payment.challenge_id,
                    Payment.kind == PaymentKind.REFUND,
                    Payment.status != PaymentStatus.FAILED,
                    Payment.provider == self.name,
                    Payment.currency == payment.currency,
                    Payment.id < payment.id,
                )
                .order_by(Payment.id)
            )
        )
        same_currency = [f for f in fundings if f.currency == payment.currency]
        refund_ids: list[str] = []
        drawn = [(amount, reserved_at) for amount, reserved_at in earlier]
        for payment_intent, amount in plan_refund(payment.amount, same_currency, drawn):
            try:
                refund = self.client.v1.refunds.create(
                    params={
                        "payment_intent": payment_intent,
                        "amount": amount,
                        "metadata": {
                            "challenge_id": str(payment.challenge_id),
                            "payment_id": str(payment.id),
                        },
                    },
                    options={"idempotency_key": f"refund-{payment.id}-{payment_intent}"},
                )
            except (stripe.RateLimitError, *INDETERMINATE) as error:
                raise _unanswered(error) from error
            except stripe.StripeError as error:
                made = f" (refunds already made for it: {', '.join(refund_ids)})"
                raise ProviderError(_reason(error) + (made if refund_ids else "")) from error
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
        """A Connect transfer from the platform's balance to the solver's account, in the
        payout's ``transfer_group`` (how ``find_payout`` finds it).

        Only a definite refusal (card or invalid request: 400, 402, 404, such as a destination
        that cannot receive transfers) is a ProviderError. A 429 is RateLimited; a 5xx, a
        timeout or a dropped connection is ProviderUnavailable: the transfer may exist."""
        try:
            transfer = self.client.v1.transfers.create(
                params={
                    "amount": request.amount,
                    "currency": request.currency.lower(),
                    "destination": request.destination,
                    "description": request.description,
                    "metadata": request.metadata,
                    "transfer_group": request.group,
                },
                options={"idempotency_key": request.key},
            )
        except (stripe.RateLimitError, *INDETERMINATE) as error:
            raise _unanswered(error) from error
        except stripe.StripeError as error:
            raise ProviderError(_reason(error)) from error
        return transfer.id

    def find_payout(self, request: PayoutRequest) -> str | None:
        """The transfer made for this payout, if any: first by its ``transfer_group``, then
        (payouts sent before transfer groups) among the destination's transfers by
        ``metadata``. Stripe has no search for transfers."""
        try:
            grouped = self.client.v1.transfers.list(
                params={"transfer_group": request.group, "limit": 10}
            )
            for transfer in grouped.data:
                return transfer.id
            by_destination = self.client.v1.transfers.list(
                params={"destination": request.destination, "limit": 100}
            )
            for scanned, transfer in enumerate(by_destination.auto_paging_iter()):
                if scanned >= FIND_SCAN_LIMIT:
                    break
                if _same_payout(transfer, request):
                    return transfer.id
        except stripe.StripeError as error:
            raise _unanswered(error) from error
        return None

    def list_transfers(self, start: datetime, end: datetime) -> list[ProviderTransfer]:
        """Every transfer created from ``start`` to ``end`` (GET /v1/transfers, a page of 100
        at a time), with ``amount_reversed`` as it stands now."""
        params = {
            "created": {"gte": int(start.timestamp()), "lte": int(end.timestamp())},
            "limit": 100,
        }
        try:
            return [
                _provider_transfer(transfer)
                for transfer in self.client.v1.transfers.list(params=params).auto_paging_iter()
            ]
        except stripe.StripeError as error:
            raise ProviderUnavailable(_reason(error)) from error


def _provider_transfer(transfer: Any) -> ProviderTransfer:
    metadata = getattr(transfer, "metadata", None)
    named = (metadata.to_dict() if metadata is not None else {}).get("payout_line_id")
    return ProviderTransfer(
        id=transfer.id,
        amount=int(transfer.amount),
        currency=str(transfer.currency).upper(),
        amount_reversed=int(getattr(transfer, "amount_reversed", 0) or 0),
        created=datetime.fromtimestamp(int(transfer.created), UTC),
        payout_line_id=_line_id(named),
    )


def _line_id(named: Any) -> int | None:
    """A payout line id from metadata, or None for anything that is not one of ours (a
    unicode digit like "²", or a number beyond 64 bits, must not reach the database)."""
    if not isinstance(named, str) or not re.fullmatch(r"[0-9]{1,18}", named):
        return None
    return int(named) or None


def _same_payout(transfer: Any, request: PayoutRequest) -> bool:
    metadata = getattr(transfer, "metadata", None)
    found = metadata.to_dict() if metadata is not None else {}  # a StripeObject: no .get()
    return all(found.get(name) == value for name, value in request.metadata.items())
