"""Solvers owed money (real awards), their payout accounts, and two platform finance users."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from marketplace.extensions import db
from marketplace.judging import decisions
from marketplace.payouts.accounts import start_onboarding
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.payments.conftest import sandbox_app, stripe_app, stripe_server  # noqa: F401
from tests.proposals.conftest import need, people, submitted  # noqa: F401


@pytest.fixture
def finance(app) -> SimpleNamespace:
    with app.app_context():
        first = UserFactory(
            email="fiona@platform.example", is_platform_finance=True, second_factor=True
        )
        second = UserFactory(
            email="felix@platform.example", is_platform_finance=True, second_factor=True
        )
        return SimpleNamespace(preparer=first.email, approver=second.email)


@pytest.fixture
def owed(app, people, submitted) -> SimpleNamespace:  # noqa: F811
    """First prize (10,000.00 USD) awarded 60/40: the lead is owed 6,000.00, the partner
    4,000.00."""
    with app.app_context():
        decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Well done")
    return submitted


def onboard(app, *emails: str) -> None:
    with app.app_context(), app.test_request_context():
        for email in emails:
            start_onboarding(user(email))
        db.session.commit()
