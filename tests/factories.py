"""factory_boy factories; call them inside ``with app.app_context():``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from ledger import utcnow
from marketplace.accounts.models import ApiToken, Membership, Organization, OrgRole, User
from marketplace.accounts.passwords import hash_password
from marketplace.accounts.scopes import ALL_SCOPES, MONEY_SCOPES
from marketplace.accounts.second_factor import has_second_factor
from marketplace.accounts.tokens import create_token
from marketplace.challenges.terms import Criterion, Terms
from marketplace.extensions import db
from tests.conftest import PASSWORD
from tests.second_factors import enrol

_PASSWORD_HASH = hash_password(PASSWORD)  # hashing is slow on purpose: do it once


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    """A user; ``UserFactory(second_factor=True)`` also enrols a second factor (platform staff
    and whoever funds, awards or reports value need one): type its codes with
    ``tests.second_factors.fresh_code``."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password_hash = _PASSWORD_HASH
    is_platform_finance = False
    is_admin = False
    active = True

    @factory.post_generation
    def second_factor(user: User, create: bool, extracted: bool | None, **_: object) -> None:
        if create and extracted:
            enrol(user)


class OrganizationFactory(BaseFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(BaseFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = OrgRole.MANAGER


def make_terms(**changes: object) -> Terms:
    """Terms a test can start from: two prizes, a 10 % fee, a deadline a month away."""
    values: dict[str, object] = {
        "currency": "USD",
        "prizes": (1_000_000, 500_000),
        "partial_awards": False,
        "value_share_bp": 500,
        "value_share_months": 24,
        "platform_fee_bp": 1_000,
        "ip_terms": "non_exclusive_licence",
        "excluded_countries": ("KP",),
        "exclude_org_members": True,
        "criteria": (Criterion("Feasibility", 60), Criterion("Impact", 40)),
        "max_team_size": 4,
        "deadline": utcnow().replace(microsecond=0) + timedelta(days=30),
        "confidentiality": "Details under NDA.",
        "notes": (),
    }
    values.update(changes)
    return Terms(**values)


def make_need(**changes: object) -> dict[str, object]:
    need: dict[str, object] = {
        "title": "Biodegradable coffee capsule liner",
        "summary": "We need a liner that keeps coffee fresh for 12 months and composts at home.",
        "background": "Our capsules use an aluminium liner today.",
        "looking_for": ["Oxygen barrier under 0.5 cc/m²/day", "Home-compostable (EN 13432)"],
        "nice_to_have": "",
        "not_looking_for": "Aluminium or multilayer plastics.",
        "possible_approaches": "Cellulose films, bio-based coatings.",
        "maturity": "prototype",
        "deliverables": "A sample and test data.",
        "category": "Packaging",
        "tags": ["compostable", "barrier"],
        "confidential_details": "Target cost: 0.4 cents per capsule.",
        "visibility": "public",
    }
    need.update(changes)
    return need


NON_MONEY_SCOPES = tuple(s for s in ALL_SCOPES if s not in MONEY_SCOPES)


def make_token(
    user: User,
    name: str = "test",
    scopes: Iterable[str] | None = None,
    expires_in: timedelta = timedelta(days=30),
) -> tuple[ApiToken, str]:
    """An API token of ``user`` and its secret: every scope unless told, the money scopes
    only if the user has a second factor (the rule a token's creation enforces)."""
    if scopes is None:
        scopes = ALL_SCOPES if has_second_factor(user) else NON_MONEY_SCOPES
    return create_token(user, name, scopes, utcnow() + expires_in)


def bearer(user: User, scopes: Iterable[str] | None = None) -> dict[str, str]:
    """The ``Authorization`` header of a new token of ``user``."""
    return {"Authorization": f"Bearer {make_token(user, scopes=scopes)[1]}"}
