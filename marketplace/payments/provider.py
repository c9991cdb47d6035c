"""The payment provider interface, and the sandbox provider of the embedded default.

A provider moves real money (Stripe) or pretends to (sandbox); the ledger records what
happened. Choosing one: Stripe when STRIPE_SECRET_KEY is set, the sandbox otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import column, func, select, table

from ledger import UTCDateTime, as_utc
from marketplace.extensions import db
from marketplace.payments.models import Payment


class ProviderError(Exception):
    """The payment provider refused or could not be reached."""


class ProviderUnavailable(ProviderError):
    """No answer (network, timeout, the provider's own error): the request may or may not have
    taken effect, so it is sent again later with the same idempotency key."""


class RateLimited(ProviderUnavailable):
    """Too many requests (HTTP 429): nothing was done; try again after ``retry_after``
    seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


@dataclass(frozen=True)
class PayoutAccountOpened:
    external_id: str
    payouts_enabled: bool
    details_submitted: bool
    onboarding_url: str | None = None  # where the solver finishes onboarding, when needed


@dataclass(frozen=True)
class PayoutRequest:
    """One payout: ``amount`` minor units of ``currency`` to the ``destination`` account.
    ``key`` is the idempotency key: the same key never pays twice."""

    key: str
    amount: int
    currency: str
    destination: str
    description: str
    metadata: dict[str, str]
    group: str  # the same for every try of one payout, whatever its key: how to find it


@dataclass(frozen=True)
class ProviderTransfer:
    """A payout transfer as the provider holds it, for the reconciliation."""

    id: str
    amount: int
    currency: str  # upper case, like ours
    amount_reversed: int
    created: datetime
    payout_line_id: int | None  # what its metadata names

    @property
    def reversed_in_full(self) -> bool:
        return self.amount_reversed >= self.amount


class PaymentProvider(Protocol):
    name: str
    is_sandbox: bool

    def start_funding(
        self, payment: Payment, *, description: str, success_url: str, cancel_url: str
    ) -> FundingStarted: ...

    def refund(self, payment: Payment, fundings: list[Payment]) -> RefundDone: ...

    def open_payout_account(
        self, user_id: int, email: str, *, return_url: str, refresh_url: str
    ) -> PayoutAccountOpened: ...

    def onboarding_link(self, external_id: str, *, return_url: str, refresh_url: str) -> str: ...

    def send_payout(self, request: PayoutRequest) -> str:
        """Pay out; returns the provider's transfer id. ProviderError: refused (nothing was
        paid); ProviderUnavailable: unknown, send again with the same key (RateLimited: after
        its ``retry_after``)."""

    def find_payout(self, request: PayoutRequest) -> str | None:
        """The id of the transfer made for this payout under any of its keys, or None when
        the provider has none. ProviderUnavailable: the provider could not be asked."""

    def list_transfers(self, start: datetime, end: datetime) -> list[ProviderTransfer]:
        """The payout transfers created from ``start`` to ``end``, with what was reversed of
        them. ProviderUnavailable: the provider could not be asked."""


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

    def open_payout_account(
        self, user_id: int, email: str, *, return_url: str, refresh_url: str
    ) -> PayoutAccountOpened:
        return PayoutAccountOpened(f"sandbox_acct_{user_id}", True, True)

    def onboarding_link(self, external_id: str, *, return_url: str, refresh_url: str) -> str:
        return return_url

    def send_payout(self, request: PayoutRequest) -> str:
        return f"sandbox_tr_{request.key}"

    def find_payout(self, request: PayoutRequest) -> str | None:
        """The sandbox answers every payout at once and keeps no transfers: there is never
        one whose answer was lost."""
        return None

    def list_transfers(self, start: datetime, end: datetime) -> list[ProviderTransfer]:
        """The sandbox keeps no transfers of its own: it answers from our records (every
        sandbox payout line that was paid), so its reconciliation checks the book's side.
        Read through the bare table: the payouts area sits above this module."""
        lines = table(
            "payout_lines", column("id"), column("amount"), column("currency"),
            column("status"), column("provider_transfer_id"), column("sent_at", UTCDateTime),
            column("resolved_at", UTCDateTime), column("payout_account_id"),
        )  # fmt: skip
        accounts = table("payout_accounts", column("id"), column("provider"))
        when = func.coalesce(lines.c.sent_at, lines.c.resolved_at)
        rows = db.session.execute(
            select(lines, when.label("created"))
            .join(accounts, accounts.c.id == lines.c.payout_account_id)
            .where(
                accounts.c.provider == self.name,
                lines.c.status.in_(("paid", "reversed")),
                when.between(start, end),
            )
            .order_by(lines.c.id)
        )
        return [
            ProviderTransfer(
                id=row.provider_transfer_id or f"sandbox_tr_payout-line-{row.id}",
                amount=row.amount,
                currency=row.currency,
                amount_reversed=row.amount if row.status == "reversed" else 0,
                created=as_utc(row.created),
                payout_line_id=row.id,
            )
            for row in rows
        ]
