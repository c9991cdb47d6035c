"""A proposal never tells its need's title to someone who may not see the need, platform
admins included (issue 11: an admin refused an internal need read its title through the
proposal's page and ``challenge_title`` in the API)."""

from __future__ import annotations

import json
import logging
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
    home = client.get("/me/proposals").text  # my proposals list it, without its need's title
    assert PROPOSAL["title"] in home and TITLE not in home and 'data-test="need-hidden"' in home
    (mine,) = client.get("/api/v1/me/proposals").get_json()["proposals"]
    assert mine["title"] == PROPOSAL["title"] and mine["challenge_title"] is None
    auth.logout()
    auth.login("sol@lab.example")  # who may see the need still gets its title
    body = client.get(f"/api/v1/proposals/{internal.proposal_id}").get_json()
    assert body["challenge_title"] == TITLE
    (mine,) = client.get("/api/v1/me/proposals").get_json()["proposals"]
    assert mine["challenge_title"] == TITLE and TITLE in client.get("/me/proposals").text


def test_an_invitation_names_the_need_only_to_someone_who_may_see_it(
    app, client, auth, internal, caplog
) -> None:
    """A team may invite anyone; the invitation (notification, email, home page, API, join
    page) names an internal need only to someone on its domains."""
    caplog.set_level(logging.INFO, logger="marketplace.mail")
    with app.app_context():
        UserFactory(email="out@elsewhere.example", email_verified_at=utcnow())
        UserFactory(email="in@lab.example", email_verified_at=utcnow())
        lead = user("sol@lab.example")
        tokens = {
            email: team.invite_member(lead, internal.proposal_id, email)[1]
            for email in ("out@elsewhere.example", "in@lab.example")
        }
    mails = [r.getMessage() for r in caplog.records if r.name == "marketplace.mail"]
    to_outsider = [mail for mail in mails if "to=out@elsewhere.example" in mail]
    assert to_outsider and not any(TITLE in mail for mail in to_outsider)
    # the invitation email goes to an address, which may be anyone's: it never names the need;
    # the app's notification (emailed too) names it to an account on the need's domain
    invitations = [mail for mail in mails if "their team for a need of Acme" in mail]
    assert len(invitations) == 2
    assert any(TITLE in mail for mail in mails if "to=in@lab.example" in mail)
    for email, sees in (("out@elsewhere.example", False), ("in@lab.example", True)):
        auth.login(email)
        pages = [
            client.get("/notifications").text,
            client.get("/me/proposals").text,
            client.get(f"/team-invitations/{tokens[email]}").text,
            json.dumps(client.get("/api/v1/me/proposals").get_json()),
        ]
        assert all((TITLE in page) == sees for page in pages), email
        (invitation,) = client.get("/api/v1/me/proposals").get_json()["invitations"]
        assert (invitation["challenge_title"] == TITLE) == sees
        assert (invitation["challenge_title"] is None) == (not sees)
        auth.logout()
