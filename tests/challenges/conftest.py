"""A seeking organization with one member per role, outsiders, and needs in each state."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from marketplace.accounts.models import Organization, OrgRole, User
from marketplace.challenges import services
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.payments.services import start_funding
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    make_need,
    make_terms,
)


def user(email: str) -> User:
    return db.session.scalar(db.select(User).where(User.email == email))


@pytest.fixture
def people(app) -> SimpleNamespace:
    """Emails by role in Acme, plus a solver and a second organization's manager."""
    with app.app_context():
        acme = OrganizationFactory(slug="acme", name="Acme")
        emails = {}
        for role in OrgRole:  # who may fund, award or report value has a second factor
            emails[role.value] = MembershipFactory(
                organization=acme,
                role=role,
                user__email=f"{role.value}@acme.example",
                user__second_factor=role != OrgRole.REVIEWER,
            ).user.email
        emails["solver"] = UserFactory(email="solver@example.com").email
        emails["other_solver"] = UserFactory(email="other@example.com").email
        emails["rival"] = MembershipFactory(
            organization__slug="rival",
            role=OrgRole.MANAGER,
            user__email="rival@rival.example",
            user__second_factor=True,
        ).user.email
        return SimpleNamespace(**emails)


def create(app, people, **need_changes) -> int:
    """A draft need of Acme, written by its manager; returns its id."""
    with app.app_context():
        acme = db.session.scalar(db.select(Organization).where(Organization.slug == "acme"))
        challenge = services.create_challenge(
            user(people.manager), acme, make_need(**need_changes), make_terms()
        )
        return challenge.id


def fund_and_open(app, people, challenge_id: int) -> None:
    with app.app_context(), app.test_request_context():
        manager = user(people.manager)
        challenge = db.session.get(Challenge, challenge_id)
        start_funding(manager, challenge)
        services.open_challenge(manager, challenge)


@pytest.fixture
def draft(app, people) -> int:
    return create(app, people)


@pytest.fixture
def opened(app, people) -> int:
    challenge_id = create(app, people)
    fund_and_open(app, people, challenge_id)
    return challenge_id
