"""The payment provider interface, and the sandbox provider of the embedded default.

A provider moves real money (Stripe) or pretends to (sandbox); the ledger records what
happened. Choosing one: Stripe when STRIPE_SECRET_KEY is set, the sandbox otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import current_app

from marketplace.payments.models import Payment


class ProviderError(Exception):
    """The payment provider refused or could not be reached."""


@dataclass(frozen=True)
class FundingStarted:
    """What the provider answered to a funding request."""

    external_id: str
    settled: bool  # True: the money is in, post it now (sandbox)
    checkout_url: str | None = None  # where the seeker pays, when not settled yet
    payment_intent: str | None = None


@dataclass(frozen=True)
class RefundDone:
    external_id: str


class PaymentProvider(Protocol):
    name: str
    is_sandbox: bool

    def start_funding(
        self, payment: Payment, *, description: str, success_url: str, cancel_url: str
    ) -> FundingStarted: ...

    def refund(self, payment: Payment, fundings: list[Payment]) -> RefundDone: ...


class SandboxProvider:
    """Settles everything at once. Shown as "sandbox" wherever a payment appears."""

    name = "sandbox"
    is_sandbox = True

    def start_funding(
        self, payment: Payment, *, description: str, success_url: str, cancel_url: str
    ) -> FundingStarted:
        return FundingStarted(external_id=f"sandbox_funding_{payment.id}", settled=True)

    def refund(self, payment: Payment, fundings: list[Payment]) -> RefundDone:
        return RefundDone(external_id=f"sandbox_refund_{payment.id}")


def current_provider() -> PaymentProvider:
    if current_app.config.get("STRIPE_SECRET_KEY"):
        from marketplace.payments.stripe_provider import StripeProvider

        return StripeProvider.from_config(current_app.config)
    return SandboxProvider()
