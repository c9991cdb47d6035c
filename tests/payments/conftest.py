"""Stripe in tests: a fake Stripe API on 127.0.0.1 that the real SDK talks to, the app
configured for Stripe for the length of one test, and helpers to sign and post webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ledger import Transfer, utcnow
from marketplace.accounts.models import OrgRole, User
from marketplace.challenges.models import Challenge
from marketplace.challenges.services import create_challenge
from marketplace.challenges.terms import Criterion, Terms
from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.models import Payment, StripeEvent
from tests.factories import MembershipFactory
from tests.payments.stripe_server import FakeStripe, sign

SECRET_KEY = "sk_test_x"
WEBHOOK_SECRET = "whsec_test"
STRIPE_SETTINGS = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")
PRIZES = (60_000, 40_000)
FEE_BP = 500  # 5 % of the 100,000 of prizes
ESCROW_REQUIRED = 105_000


@pytest.fixture
def stripe_server() -> Iterator[FakeStripe]:
    """The fake Stripe API, started on a free port; ``.url``, ``.requests``, ``.fail(...)``."""
    server = FakeStripe().start()
    try:
        yield server
    finally:
        server.stop()


def _configured(app: Flask, **settings: Any) -> Iterator[Flask]:
    saved = {name: app.config.get(name) for name in settings}
    app.config.update(settings)
    try:
        yield app
    finally:
        app.config.update(saved)


@pytest.fixture
def stripe_app(app: Flask, stripe_server: FakeStripe) -> Iterator[Flask]:
    """The test app with Stripe configured against the fake server, for this test only.

    ``current_provider()`` reads the config at call time, so the session-wide app can be
    switched to Stripe and back.
    """
    yield from _configured(
        app,
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=stripe_server.url,
    )


@pytest.fixture
def sandbox_app(app: Flask) -> Iterator[Flask]:
    """The test app with no Stripe settings at all, whatever the environment says."""
    yield from _configured(app, **dict.fromkeys(STRIPE_SETTINGS))


@pytest.fixture
def seeker(app: Flask) -> SimpleNamespace:
    """A manager of a seeking organization, and a draft need of theirs with terms that ask
    escrow for 105,000 (prizes 60,000 + 40,000 and a 5 % fee)."""
    with app.app_context():
        membership = MembershipFactory(role=OrgRole.MANAGER, user__second_factor=True)
        terms = Terms(
            currency="USD",
            prizes=PRIZES,
            partial_awards=False,
            value_share_bp=0,
            value_share_months=0,
            platform_fee_bp=FEE_BP,
            ip_terms="non_exclusive_licence",
            excluded_countries=(),
            exclude_org_members=True,
            criteria=(Criterion("Feasibility", 50), Criterion("Impact", 50)),
            max_team_size=4,
            deadline=utcnow().replace(microsecond=0) + timedelta(days=30),
        )
        need = {
            "title": "Recyclable mono-material pouch",
            "summary": "A pouch that keeps snacks crisp for 9 months and recycles as PE.",
            "looking_for": ["Oxygen barrier under 1 cc/m²/day", "Recyclable in PE streams"],
            "maturity": "prototype",
            "category": "Packaging",
            "tags": ["recyclable", "barrier"],
            "visibility": "public",
        }
        challenge = create_challenge(membership.user, membership.organization, need, terms)
        return SimpleNamespace(
            email=membership.user.email, user_id=membership.user.id, challenge_id=challenge.id
        )


def manager(seeker: SimpleNamespace) -> User:
    return db.session.get(User, seeker.user_id)


def challenge(seeker: SimpleNamespace) -> Challenge:
    return db.session.get(Challenge, seeker.challenge_id)


def post_event(
    client: FlaskClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    payload: str | None = None,
):
    """POST ``event`` to the webhook, signed with ``secret`` at ``timestamp`` (default now)."""
    body = json.dumps(event) if payload is None else payload
    return client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": sign(body, secret, timestamp)},
        content_type="application/json",
    )


def fund_through_stripe(
    app: Flask,
    client: FlaskClient,
    stripe_server: FakeStripe,
    seeker: SimpleNamespace,
    amount: int | None = None,
) -> int:
    """Start a funding, pay it on the (fake) Checkout page, deliver the webhook: payment id."""
    with app.test_request_context():
        payment = services.start_funding(manager(seeker), challenge(seeker), amount)
        payment_id, session_id = payment.id, payment.external_id
    session = stripe_server.complete(session_id)
    answer = post_event(client, stripe_server.event("checkout.session.completed", session))
    assert answer.status_code == 200, answer.json
    return payment_id


def transfers(code: str) -> list[Transfer]:
    return list(db.session.scalars(select(Transfer).where(Transfer.code == code)))


def stripe_event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StripeEvent))


def stripe_event_ids() -> list[str]:
    return list(db.session.scalars(select(StripeEvent.id).order_by(StripeEvent.id)))


def payments(seeker: SimpleNamespace) -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment).where(Payment.challenge_id == seeker.challenge_id).order_by(Payment.id)
        )
    )
