"""Payout accounts: a solver onboards with the provider (a Stripe Connect Express account and
its onboarding link; the sandbox onboards at once). Payouts go only to accounts whose
``payouts_enabled`` the provider confirmed (Stripe's ``account.updated`` webhook keeps it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import User
from marketplace.errors import Conflict, Unauthorized
from marketplace.extensions import db
from marketplace.payments.provider import PaymentProvider, ProviderError, current_provider
from marketplace.payouts.models import PayoutAccount
from marketplace.urls import external_url


def payout_account_of(user: User) -> PayoutAccount | None:
    return db.session.scalar(select(PayoutAccount).where(PayoutAccount.user_id == user.id))


def start_onboarding(user: User) -> tuple[PayoutAccount, str | None]:
    """Open (or continue) the user's payout account; returns it and where to finish
    onboarding (None when it can receive payouts already)."""
    if not getattr(user, "is_authenticated", False):
        raise Unauthorized("Sign in to set up payouts.")
    provider = current_provider()
    return_url = external_url("payouts.onboarding_done")
    refresh_url = external_url("payouts.onboard")
    account = payout_account_of(user)
    try:
        if account is None:
            opened = provider.open_payout_account(
                user.id, user.email, return_url=return_url, refresh_url=refresh_url
            )
            account = PayoutAccount(
                user_id=user.id,
                provider=provider.name,
                external_id=opened.external_id,
                payouts_enabled=opened.payouts_enabled,
                details_submitted=opened.details_submitted,
            )
            db.session.add(account)
            try:
                db.session.commit()
            except IntegrityError:  # a second click raced this one: use its account
                db.session.rollback()
                account = payout_account_of(user)
                return account, None if account.payouts_enabled else _link(provider, account)
            return account, opened.onboarding_url
        if account.payouts_enabled:
            return account, None
        if account.provider != provider.name:
            raise Conflict("This payout account belongs to another payment provider.")
        url = _link(provider, account)
    except ProviderError as error:
        db.session.rollback()
        raise Conflict(f"The payment provider refused: {error}") from error
    return account, url


def continue_onboarding(user: User) -> str | None:
    """A fresh onboarding link for an account opened already (Stripe's refresh URL is visited
    with GET when a link expires); opens nothing."""
    account = payout_account_of(user)
    if account is None or account.payouts_enabled:
        return None
    try:
        return _link(current_provider(), account)
    except ProviderError as error:
        raise Conflict(f"The payment provider refused: {error}") from error


def _link(provider: PaymentProvider, account: PayoutAccount) -> str:
    return provider.onboarding_link(
        account.external_id,
        return_url=external_url("payouts.onboarding_done"),
        refresh_url=external_url("payouts.onboard"),
    )


def account_updated(account: Mapping[str, Any]) -> None:
    """Stripe's ``account.updated``: keep whether the account can receive payouts."""
    found = db.session.scalar(
        select(PayoutAccount).where(PayoutAccount.external_id == str(account.get("id")))
    )
    if found is None:
        return
    found.payouts_enabled = bool(account.get("payouts_enabled"))
    found.details_submitted = bool(account.get("details_submitted"))
