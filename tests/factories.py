"""factory_boy factories; call them inside ``with app.app_context():``."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from marketplace.accounts.models import Membership, Organization, OrgRole, User
from marketplace.accounts.passwords import hash_password
from marketplace.extensions import db
from tests.conftest import PASSWORD

_PASSWORD_HASH = hash_password(PASSWORD)  # hashing is slow on purpose: do it once


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password_hash = _PASSWORD_HASH
    is_platform_finance = False
    is_admin = False
    active = True


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
