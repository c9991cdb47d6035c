"""Who reads a proposal: its team and the seeker's owners, managers and reviewers. Platform
admins see metadata unless the terms allow more; everyone else is told it does not exist."""

from __future__ import annotations

import pytest

from marketplace.challenges.terms import worsened_fields
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.proposals.access import get_proposal, get_proposal_metadata
from marketplace.proposals.models import Proposal
from tests.challenges.conftest import user
from tests.factories import UserFactory, make_terms
from tests.proposals.conftest import accept, draft_proposal, need_with, submit

READERS = ["solver", "partner", "owner", "manager", "reviewer"]
OUTSIDERS = ["finance", "other_solver", "rival", "anonymous", "admin"]


@pytest.fixture
def admin(app):
    with app.app_context():
        return UserFactory(email="admin@platform.example", is_admin=True).email


def viewer(people, who: str, admin_email: str):
    if who == "anonymous":
        return None
    if who == "admin":
        return user(admin_email)
    if who == "partner":
        return user("partner@example.com")
    return user(getattr(people, who))


@pytest.mark.parametrize("who", READERS)
def test_the_team_and_the_seekers_readers_read_a_submitted_proposal(
    app, people, submitted, admin, who
):
    with app.app_context():
        assert (
            get_proposal(viewer(people, who, admin), submitted.proposal_id).id
            == submitted.proposal_id
        )


@pytest.mark.parametrize("who", OUTSIDERS)
def test_everyone_else_is_told_it_does_not_exist(app, people, submitted, admin, who):
    with app.app_context(), pytest.raises(NotFound):
        get_proposal(viewer(people, who, admin), submitted.proposal_id)


@pytest.mark.parametrize("who", ["owner", "manager", "reviewer", "admin"])
def test_a_draft_is_the_teams_alone(app, people, need, admin, who):
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        assert get_proposal(user(people.solver), proposal_id)
        with pytest.raises(NotFound):
            get_proposal_metadata(viewer(people, who, admin), proposal_id)


def test_admins_see_metadata_only_unless_the_terms_allow_more(app, people, submitted, admin):
    with app.app_context():
        proposal, full = get_proposal_metadata(user(admin), submitted.proposal_id)
        assert (proposal.id, full) == (submitted.proposal_id, False)
        _, full = get_proposal_metadata(user(people.reviewer), submitted.proposal_id)
        assert full is True
        with pytest.raises(NotFound):
            get_proposal_metadata(user(people.other_solver), submitted.proposal_id)


def test_terms_can_let_admins_read_in_full(app, people, admin):
    challenge_id = need_with(app, people, admins_may_read=True)
    accept(app, people.solver, challenge_id)
    proposal_id = submit(app, people.solver, challenge_id)
    with app.app_context():
        assert get_proposal(user(admin), proposal_id).id == proposal_id
        assert db.session.get(Proposal, proposal_id).terms_version.terms.admins_may_read


def test_admin_access_is_part_of_the_terms_and_cannot_widen_after_opening():
    closed, opened = make_terms(), make_terms(admins_may_read=True)
    assert "admins_may_read" not in closed.to_json()  # old versions keep their hashes
    assert opened.to_json()["admins_may_read"] is True
    assert closed.sha256() != opened.sha256()
    assert set(worsened_fields(closed, opened)) == {"admins_may_read"}
    assert worsened_fields(opened, closed) == {}
