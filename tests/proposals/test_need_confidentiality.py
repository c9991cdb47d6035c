"""A proposal never tells its need's title to someone who may not see the need, platform
admins included (issue 11: an admin refused an internal need read its title through the
proposal's page and ``challenge_title`` in the API)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import delete

from ledger import utcnow
from marketplace.accounts.models import Organization, OrganizationDomain
from marketplace.extensions import db
from marketplace.proposals import services, team
from tests.challenges.conftest import create, fund_and_open, user
from tests.factories import UserFactory
from tests.proposals.conftest import PROPOSAL, accept

TITLE = "Secret capsule liner for the lab"


@pytest.fixture
def internal(app, people) -> SimpleNamespace:
    """An open internal need of Acme (domains lab.example and lab2.example) with a proposal
    submitted by sol@lab.example, whose team has pat@lab2.example too."""
    with app.app_context():
        acme = db.session.scalar(db.select(Organization).where(Organization.slug == "acme"))
        for domain in ("lab.example", "lab2.example"):
            db.session.add(OrganizationDomain(organization_id=acme.id, domain=domain))
        for email in ("sol@lab.example", "pat@lab2.example"):
            UserFactory(email=email, email_verified_at=utcnow())
        UserFactory(email="admin@platform.example", is_admin=True)
        db.session.commit()
    challenge_id = create(app, people, title=TITLE, visibility="internal")
    fund_and_open(app, people, challenge_id)
    for email in ("sol@lab.example", "pat@lab2.example"):
        accept(app, email, challenge_id)
    with app.app_context():
        lead = user("sol@lab.example")
        proposal_id = services.create_proposal(lead, challenge_id, PROPOSAL).id
        _, token = team.invite_member(lead, proposal_id, "pat@lab2.example")
        team.join_team(user("pat@lab2.example"), token)
    return SimpleNamespace(challenge_id=challenge_id, proposal_id=proposal_id)


def test_an_admin_refused_the_need_does_not_reach_its_proposal(app, client, auth, internal) -> None:
    with app.app_context():
        proposal = db.session.get(services.Proposal, internal.proposal_id)
        proposal.status, proposal.submitted_at = "submitted", utcnow()
        db.session.commit()
    auth.login("admin@platform.example")
    assert client.get(f"/challenges/{internal.challenge_id}").status_code == 404
    for url in (f"/proposals/{internal.proposal_id}", f"/api/v1/proposals/{internal.proposal_id}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert TITLE.encode() not in response.data


def test_a_team_member_who_no_longer_sees_the_need_does_not_get_its_title(
    app, client, auth, internal
) -> None:
    auth.login("pat@lab2.example")
    page = client.get(f"/proposals/{internal.proposal_id}")
    assert page.status_code == 200 and TITLE in page.text  # while on the need's domain
    with app.app_context():
        db.session.execute(
            delete(OrganizationDomain).where(OrganizationDomain.domain == "lab2.example")
        )
        db.session.commit()
    assert client.get(f"/challenges/{internal.challenge_id}").status_code == 404
    page = client.get(f"/proposals/{internal.proposal_id}")
    assert page.status_code == 200  # their own proposal stays theirs
    assert TITLE not in page.text and 'data-test="need-hidden"' in page.text
    body = client.get(f"/api/v1/proposals/{internal.proposal_id}").get_json()
    assert body["title"] == PROPOSAL["title"] and body["challenge_title"] is None
    auth.logout()
    auth.login("sol@lab.example")  # who may see the need still gets its title
    body = client.get(f"/api/v1/proposals/{internal.proposal_id}").get_json()
    assert body["challenge_title"] == TITLE
