"""Organizations and memberships: who may see and change them (the wrong user is refused)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Membership, Organization, OrgRole
from marketplace.extensions import db
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory


@pytest.fixture
def acme(app):
    """An organization with one member per role, plus an outsider. Returns emails by role."""
    with app.app_context():
        organization = OrganizationFactory(slug="acme", name="Acme")
        people = {"outsider": UserFactory(email="outsider@example.com").email}
        for role in OrgRole:
            member = MembershipFactory(
                organization=organization, role=role, user__email=f"{role.value}@acme.example"
            )
            people[role.value] = member.user.email
        return people


def roles_in_acme(app) -> dict[str, str]:
    with app.app_context():
        organization = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        return {m.user.email: m.role for m in organization.memberships}


def test_creating_an_organization_makes_you_its_owner(app, client, auth, acme) -> None:
    auth.login(acme["outsider"])
    response = client.post("/organizations/new", data={"name": "Beta Labs", "slug": "beta-labs"})
    assert response.headers["Location"] == "/organizations/beta-labs/members"
    with app.app_context():
        membership = db.session.scalar(
            select(Membership).join(Organization).where(Organization.slug == "beta-labs")
        )
        assert (membership.user.email, membership.role) == ("outsider@example.com", "owner")


@pytest.mark.parametrize(
    ("slug", "message"),
    [("acme", "This address is taken."), ("Not A Slug!", "lower-case"), ("api", "lower-case")],
)
def test_organization_address_rules(app, client, auth, acme, slug, message) -> None:
    auth.login(acme["outsider"])
    response = client.post("/organizations/new", data={"name": "Another", "slug": slug})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Organization).where(Organization.name == "Another")) is None


@pytest.mark.parametrize("role", [r.value for r in OrgRole])
def test_every_member_sees_the_member_list(client, auth, acme, role) -> None:
    auth.login(acme[role])
    response = client.get("/organizations/acme/members")
    assert response.status_code == 200
    assert "finance@acme.example" in response.get_data(as_text=True)


def test_an_outsider_cannot_see_the_member_list(client, auth, acme) -> None:
    auth.login(acme["outsider"])
    assert client.get("/organizations/acme/members").status_code == 403


def test_owner_adds_a_member_and_changes_a_role(app, client, auth, acme) -> None:
    auth.login(acme["owner"])
    added = client.post(
        "/organizations/acme/members", data={"email": "OUTSIDER@example.com", "role": "reviewer"}
    )
    assert added.status_code == 302
    client.post(
        "/organizations/acme/members", data={"email": "reviewer@acme.example", "role": "manager"}
    )
    roles = roles_in_acme(app)
    assert roles["outsider@example.com"] == "reviewer"
    assert roles["reviewer@acme.example"] == "manager"


@pytest.mark.parametrize("role", ["manager", "reviewer", "finance", "outsider"])
def test_only_owners_change_members(app, client, auth, acme, role) -> None:
    auth.login(acme[role])
    before = roles_in_acme(app)
    response = client.post(
        "/organizations/acme/members", data={"email": "outsider@example.com", "role": "owner"}
    )
    assert response.status_code == 403
    with app.app_context():
        finance_id = db.session.scalar(
            select(Membership.user_id).where(Membership.role == "finance")
        )
    removal = client.post(f"/organizations/acme/members/{finance_id}/remove")
    assert removal.status_code == 403
    assert roles_in_acme(app) == before


def test_adding_an_unknown_email_is_a_form_error(app, client, auth, acme) -> None:
    auth.login(acme["owner"])
    response = client.post(
        "/organizations/acme/members", data={"email": "stranger@example.com", "role": "manager"}
    )
    assert response.status_code == 422
    assert "register first" in response.get_data(as_text=True)


def test_the_last_owner_cannot_leave_or_step_down(app, client, auth, acme) -> None:
    auth.login(acme["owner"])
    with app.app_context():
        owner_id = db.session.scalar(select(Membership.user_id).where(Membership.role == "owner"))
    client.post(f"/organizations/acme/members/{owner_id}/remove")
    assert "at least one owner" in client.get("/organizations/acme/members").get_data(as_text=True)
    step_down = client.post(
        "/organizations/acme/members", data={"email": acme["owner"], "role": "manager"}
    )
    assert step_down.status_code == 422
    assert "at least one owner" in step_down.get_data(as_text=True)
    assert roles_in_acme(app)[acme["owner"]] == "owner"


def test_owner_removes_a_member(app, client, auth, acme) -> None:
    auth.login(acme["owner"])
    with app.app_context():
        finance_id = db.session.scalar(
            select(Membership.user_id).where(Membership.role == "finance")
        )
    assert client.post(f"/organizations/acme/members/{finance_id}/remove").status_code == 302
    assert "finance@acme.example" not in roles_in_acme(app)


def test_unknown_organization_is_404(client, auth, acme) -> None:
    auth.login(acme["owner"])
    assert client.get("/organizations/nope/members").status_code == 404


def test_api_me_lists_memberships_and_needs_a_user(client, auth, acme) -> None:
    anonymous = client.get("/api/v1/me")
    assert anonymous.status_code == 401
    assert anonymous.json["title"] == "Unauthorized"
    auth.login(acme["manager"])
    me = client.get("/api/v1/me").json
    assert me["email"] == "manager@acme.example"
    assert me["organizations"] == [{"organization": "Acme", "slug": "acme", "role": "manager"}]
