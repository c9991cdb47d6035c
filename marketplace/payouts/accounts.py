"""Payout accounts: a solver onboards with the provider (a Stripe Connect Express account and
its onboarding link; the sandbox onboards at once). Payouts go only to accounts whose
``payouts_enabled`` the provider confirmed (Stripe's ``account.updated`` webhook keeps it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import User
from marketplace.audit.log import record
from marketplace.db import command
from marketplace.errors import Conflict, Unauthorized
from marketplace.extensions import db
from marketplace.payments.provider import (
    PaymentProvider,
    PayoutAccountOpened,
    ProviderError,
)
from marketplace.payments.registry import current_provider
from marketplace.payouts.models import PayoutAccount
from marketplace.urls import external_url

log = logging.getLogger(__name__)
T = TypeVar("T")


def payout_account_of(user: User) -> PayoutAccount | None:
    return db.session.scalar(select(PayoutAccount).where(PayoutAccount.user_id == user.id))


def start_onboarding(user: User) -> tuple[PayoutAccount, str | None]:
    """Open (or continue) the user's payout account; returns it and where to finish
    onboarding (None when it can receive payouts already).

    The provider is asked before anything is written, outside any transaction: its account is
    opened under the idempotency key ``connect-account-<user id>``, so a second click (or a
    retry after a crash) gets the same account back, and the row is written once.
    """
    if not getattr(user, "is_authenticated", False):
        raise Unauthorized("Sign in to set up payouts.")
    provider = current_provider()
    account = payout_account_of(user)
    if account is not None:
        if account.payouts_enabled:
            return account, None
        if account.provider != provider.name:
            raise Conflict("This payout account belongs to another payment provider.")
        return account, _refused_as_conflict(lambda: _link(provider, account))
    opened = _refused_as_conflict(
        lambda: provider.open_payout_account(
            user.id,
            user.email,
            return_url=external_url("payouts.onboarding_done"),
            refresh_url=external_url("payouts.onboard"),
        )
    )
    account = _save_account(user, provider.name, opened)
    if account.external_id != opened.external_id or account.payouts_enabled:
        return account, None if account.payouts_enabled else _link(provider, account)
    return account, opened.onboarding_url


@command
def _save_account(user: User, provider: str, opened: PayoutAccountOpened) -> PayoutAccount:
    """The user's payout account row, written once (a racing second click finds the first)."""
    account = PayoutAccount(
        user_id=user.id,
        provider=provider,
        external_id=opened.external_id,
        payouts_enabled=opened.payouts_enabled,
        details_submitted=opened.details_submitted,
    )
    try:
        with db.session.begin_nested():
            db.session.add(account)
    except IntegrityError:
        return payout_account_of(user)
    record("payout_account.open", obj=account, actor=user, details={"provider": provider})
    return account


def _refused_as_conflict(call: Callable[[], T]) -> T:
    try:
        return call()
    except ProviderError as error:
        raise Conflict(f"The payment provider refused: {error}") from error


def continue_onboarding(user: User) -> str | None:
    """A fresh onboarding link for an account opened already (Stripe's refresh URL is visited
    with GET when a link expires); opens nothing."""
    account = payout_account_of(user)
    if account is None or account.payouts_enabled:
        return None
    provider = current_provider()
    return _refused_as_conflict(lambda: _link(provider, account))


def _link(provider: PaymentProvider, account: PayoutAccount) -> str:
    return provider.onboarding_link(
        account.external_id,
        return_url=external_url("payouts.onboarding_done"),
        refresh_url=external_url("payouts.onboard"),
    )


@command
def account_updated(account: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """Stripe's ``account.updated``: keep whether the account can receive payouts.

    Stripe does not deliver events in order, so an event older than the state we hold (by
    the event's ``created``) is stale and ignored; the account's row is locked, so two events
    applied at once are applied one after the other."""
    found = db.session.scalar(
        select(PayoutAccount)
        .where(PayoutAccount.external_id == str(account.get("id")))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        return
    created = _event_time(event)
    held = found.provider_state_at
    if created is not None and held is not None and created < held:
        log.info("account.updated %s for %s is older than the state held: ignored",
                 event.get("id"), found.external_id)  # fmt: skip
        return
    found.payouts_enabled = bool(account.get("payouts_enabled"))
    found.details_submitted = bool(account.get("details_submitted"))
    found.provider_state_at = created or found.provider_state_at


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    created = event.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        return None
    try:
        return datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError):
        return None
