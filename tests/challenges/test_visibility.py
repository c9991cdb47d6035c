"""Who sees a need: public, internal, invite-only, drafts. The wrong user gets a 404, in
pages, lists, search and counts alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ledger import utcnow
from marketplace.accounts.models import Organization, OrganizationDomain
from marketplace.accounts.services import email_verification_token
from marketplace.challenges import services
from marketplace.challenges.models import Challenge, Invitation
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import db
from tests.challenges.conftest import create, fund_and_open, user
from tests.factories import UserFactory


def visible(client, auth, email: str | None, challenge_id: int) -> tuple[int, bool]:
    """(status of the need's page, whether the browse list shows it) for this viewer."""
    auth.logout()
    if email:
        auth.login(email)
    page = client.get(f"/challenges/{challenge_id}").status_code
    listed = f'/challenges/{challenge_id}"' in client.get("/challenges?status=any").get_data(
        as_text=True
    )
    return page, listed


def test_a_draft_is_seen_by_staff_only(app, client, auth, people, draft) -> None:
    for role in ("owner", "manager", "reviewer", "finance"):
        assert visible(client, auth, getattr(people, role), draft) == (200, True)
    for who in (people.solver, people.rival, None):
        assert visible(client, auth, who, draft) == (404, False)


def test_a_public_need_is_seen_by_everyone_once_open(app, client, auth, people, opened) -> None:
    for who in (people.solver, people.rival, None):
        assert visible(client, auth, who, opened) == (200, True)


@pytest.fixture
def internal(app, people) -> int:
    challenge_id = create(app, people, visibility="internal")
    fund_and_open(app, people, challenge_id)
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        db.session.add(OrganizationDomain(organization_id=acme.id, domain="acme-labs.example"))
        UserFactory(email="unverified@acme-labs.example")
        UserFactory(email="verified@acme-labs.example", email_verified_at=utcnow())
        UserFactory(email="verified@elsewhere.example", email_verified_at=utcnow())
    return challenge_id


def test_internal_needs(app, client, auth, people, internal) -> None:
    assert visible(client, auth, people.reviewer, internal) == (200, True)
    assert visible(client, auth, "verified@acme-labs.example", internal) == (200, True)
    for who in ("unverified@acme-labs.example", "verified@elsewhere.example", people.solver, None):
        assert visible(client, auth, who, internal) == (404, False)


def test_verifying_an_email_on_the_domain_opens_internal_needs(
    app, client, auth, people, internal
) -> None:
    assert visible(client, auth, "unverified@acme-labs.example", internal) == (404, False)
    with app.app_context():
        token = email_verification_token(user("unverified@acme-labs.example"))
    page = client.get(f"/verify-email/{token}")
    assert page.status_code == 200 and 'data-test="confirm"' in page.get_data(as_text=True)
    # The link's GET only shows the button: the address is not confirmed by it.
    assert visible(client, auth, "unverified@acme-labs.example", internal) == (404, False)
    assert client.post(f"/verify-email/{token}").status_code == 302
    assert visible(client, auth, "unverified@acme-labs.example", internal) == (200, True)
    assert client.get("/verify-email/forged-token").status_code == 410
    assert client.post("/verify-email/forged-token").status_code == 410
    with app.app_context():
        assert user("unverified@acme-labs.example").email_verified_at is not None


@pytest.fixture
def invite_only(app, people) -> int:
    challenge_id = create(app, people, visibility="invite_only")
    fund_and_open(app, people, challenge_id)
    return challenge_id


def invite(app, people, challenge_id: int, email: str) -> str:
    with app.app_context():
        _, token = services.invite_partner(
            user(people.manager), db.session.get(Challenge, challenge_id), email, "Partner"
        )
        return token


def test_invite_only_needs_open_to_the_named_partner(
    app, client, auth, people, invite_only
) -> None:
    assert visible(client, auth, people.solver, invite_only) == (404, False)
    token = invite(app, people, invite_only, people.solver)
    auth.login(people.solver)
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 200 and 'data-test="accept"' in page.get_data(as_text=True)
    # The link's GET only shows the button: the invitation is not redeemed by it.
    assert visible(client, auth, people.solver, invite_only) == (404, False)
    auth.login(people.solver)
    assert client.post(f"/invitations/{token}").status_code == 302
    assert visible(client, auth, people.solver, invite_only) == (200, True)
    assert visible(client, auth, people.other_solver, invite_only) == (404, False)
    auth.login(people.other_solver)
    assert client.get(f"/invitations/{token}").status_code == 410  # single use
    assert client.post(f"/invitations/{token}").status_code == 410


def test_an_invitation_is_for_its_email_and_expires(app, people, invite_only) -> None:
    token = invite(app, people, invite_only, people.solver)
    with app.app_context():
        with pytest.raises(Invalid, match="is for solver@example.com"):
            services.redeem_invitation(user(people.other_solver), token)
        db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        with pytest.raises(Invalid, match="expired"):
            services.redeem_invitation(user(people.solver), token)
        with pytest.raises(Invalid, match="not valid"):
            services.redeem_invitation(user(people.solver), "guess")


@pytest.mark.parametrize("role", ["reviewer", "finance", "solver"])
def test_only_editors_invite(app, people, invite_only, role) -> None:
    with app.app_context():
        challenge = db.session.get(Challenge, invite_only)
        with pytest.raises(Exception) as refused:
            services.invite_partner(user(getattr(people, role)), challenge, "x@example.com")
        assert refused.type.__name__ == "Forbidden"


def test_invitations_are_for_invite_only_needs(app, people, opened) -> None:
    with app.app_context(), pytest.raises(Conflict):
        services.invite_partner(
            user(people.manager), db.session.get(Challenge, opened), "x@example.com"
        )
