"""The rules of proposals and teams, at the service level: terms and eligibility first,
deadlines, team size, split confirmation and re-confirmation, locking at award."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import utcnow
from marketplace.challenges.models import Challenge
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.judging import decisions
from marketplace.proposals import services, team
from marketplace.proposals.access import get_proposal
from marketplace.proposals.models import Proposal, ProposalStatus
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.proposals.conftest import (
    PROPOSAL,
    accept,
    build_team,
    draft_proposal,
    member_id,
)


def proposal(proposal_id: int) -> Proposal:
    return db.session.get(Proposal, proposal_id)


def pass_deadline(challenge_id: int) -> None:
    db.session.get(Challenge, challenge_id).deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()


def test_a_solver_must_accept_the_terms_before_writing(app, people, need):
    with app.app_context():
        newcomer = UserFactory(email="new@example.com")
        with pytest.raises(Conflict, match="Accept the need's terms"):
            services.create_proposal(newcomer, need, PROPOSAL)
        assert db.session.scalar(db.select(db.func.count(Proposal.id))) == 0


def test_ineligible_solvers_cannot_write_or_join(app, people, need):
    with app.app_context():
        excluded = UserFactory(email="kp@example.com", country="KP")
        with pytest.raises(Conflict, match="your country"):
            services.create_proposal(excluded, need, PROPOSAL)
        with pytest.raises(Conflict, match="Members of the seeking organization"):
            services.create_proposal(user(people.reviewer), need, PROPOSAL)
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        _, token = team.invite_member(user(people.solver), proposal_id, "kp@example.com")
        with pytest.raises(Conflict, match="your country"):
            team.join_team(user("kp@example.com"), token)
        assert len(proposal(proposal_id).joined) == 1


def test_submission_records_the_terms_version(app, submitted):
    with app.app_context():
        submitted_proposal = proposal(submitted.proposal_id)
        assert submitted_proposal.status == ProposalStatus.SUBMITTED
        assert submitted_proposal.terms_version.version == 1
        assert submitted_proposal.submitted_at is not None


def test_every_member_must_accept_the_current_terms_version(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        UserFactory(email="late@example.com")
    build_team(app, proposal_id, people.solver, "late@example.com")
    with app.app_context():
        with pytest.raises(Invalid) as refused:
            services.submit_proposal(user(people.solver), proposal_id)
        assert "must accept terms version 1" in " ".join(refused.value.errors["team"])
    accept(app, "late@example.com", need)
    with app.app_context():
        assert services.submit_proposal(user(people.solver), proposal_id).status == "submitted"


def test_edits_and_submission_stop_at_the_deadline(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        pass_deadline(need)
        lead = user(people.solver)
        with pytest.raises(Conflict, match="deadline has passed"):
            services.update_proposal(lead, proposal_id, {"title": "Too late"})
        with pytest.raises(Conflict, match="deadline has passed"):
            services.submit_proposal(lead, proposal_id)
        with pytest.raises(Conflict, match="deadline has passed"):
            team.invite_member(lead, proposal_id, "partner@example.com")
        assert proposal(proposal_id).title == PROPOSAL["title"]
        assert proposal(proposal_id).status == ProposalStatus.DRAFT


def test_the_split_must_be_confirmed_by_everyone_before_submission(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        lead = user(people.solver)
        _, token = team.invite_member(lead, proposal_id, "partner@example.com", 4000)
        with pytest.raises(Invalid) as refused:
            services.submit_proposal(lead, proposal_id)
        assert any("has not joined" in m for m in refused.value.errors["team"])
        team.join_team(user("partner@example.com"), token)
        ids = {m.email: m.id for m in proposal(proposal_id).members}
        team.set_split(
            lead, proposal_id, {ids[people.solver]: 6000, ids["partner@example.com"]: 4000}
        )
        with pytest.raises(Invalid) as refused:
            services.submit_proposal(lead, proposal_id)
        assert (
            "Waiting for split confirmation from partner@example.com."
            in refused.value.errors["team"]
        )
        version = proposal(proposal_id).split_version
        team.confirm_split(user("partner@example.com"), proposal_id, version)
        assert proposal(proposal_id).split_confirmed
        services.submit_proposal(lead, proposal_id)


def test_a_stale_confirmation_is_refused(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)
    build_team(app, proposal_id, people.solver, "partner@example.com")
    with app.app_context():
        seen = proposal(proposal_id).split_version
        ids = {m.email: m.id for m in proposal(proposal_id).members}
        team.set_split(
            user(people.solver),
            proposal_id,
            {ids[people.solver]: 5000, ids["partner@example.com"]: 5000},
        )
        with pytest.raises(Conflict, match="split changed"):
            team.confirm_split(user("partner@example.com"), proposal_id, seen)
        assert not proposal(proposal_id).split_confirmed


@pytest.mark.parametrize(
    "shares, message",
    [
        ({"lead": 6000, "partner": 3000}, "90.00 %, not 100 %"),
        ({"lead": 10000, "partner": 0}, "1 to 10,000 basis points"),
        ({"lead": 10000}, "every member"),
        ({"lead": 6000, "partner": 4000, "stranger": 1}, "every member"),
        ({"lead": 6000.0, "partner": 4000}, "1 to 10,000 basis points"),
    ],
)
def test_bad_splits_are_refused_and_change_nothing(app, people, need, shares, message):
    proposal_id = draft_proposal(app, people.solver, need)
    build_team(app, proposal_id, people.solver, "partner@example.com")
    ids = {
        "lead": member_id(app, proposal_id, people.solver),
        "partner": member_id(app, proposal_id, "partner@example.com"),
        "stranger": 10**9,
    }
    with app.app_context():
        before = proposal(proposal_id).split_version
        with pytest.raises(Invalid) as refused:
            team.set_split(user(people.solver), proposal_id, {ids[k]: v for k, v in shares.items()})
        assert message in refused.value.errors["shares"][0]
        assert proposal(proposal_id).split_version == before
        assert [m.share_bp for m in proposal(proposal_id).members] == [6000, 4000]


def test_only_the_lead_changes_the_split_or_submits(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)
    build_team(app, proposal_id, people.solver, "partner@example.com")
    with app.app_context():
        partner = user("partner@example.com")
        ids = {m.email: m.id for m in proposal(proposal_id).members}
        with pytest.raises(Forbidden):
            team.set_split(partner, proposal_id, {ids[people.solver]: 1, ids[partner.email]: 9999})
        with pytest.raises(Forbidden):
            services.submit_proposal(partner, proposal_id)
        with pytest.raises(Forbidden):
            team.remove_member(partner, proposal_id, ids[people.solver])
        with pytest.raises(NotFound):  # outsiders do not even see it
            team.invite_member(user(people.other_solver), proposal_id, "x@example.com")


def test_team_size_is_capped_by_the_terms(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)  # max_team_size is 4
    with app.app_context():
        lead = user(people.solver)
        for n in range(3):
            team.invite_member(lead, proposal_id, f"member{n}@example.com")
        with pytest.raises(Conflict, match="teams of up to 4"):
            team.invite_member(lead, proposal_id, "fifth@example.com")
        assert len(proposal(proposal_id).members) == 4


def test_a_join_link_works_once_and_only_for_its_address(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        _, token = team.invite_member(user(people.solver), proposal_id, "partner@example.com")
        with pytest.raises(Invalid, match="sign in with that address"):
            team.join_team(user(people.other_solver), token)
        team.join_team(user("partner@example.com"), token)
        with pytest.raises(Invalid, match="not valid or was used"):
            team.join_team(user("partner@example.com"), token)


def test_a_change_after_submission_needs_confirmation_again_before_an_award(app, people, submitted):
    with app.app_context():
        ids = {m.email: m.id for m in proposal(submitted.proposal_id).members}
        team.set_split(
            user(submitted.lead),
            submitted.proposal_id,
            {ids[submitted.lead]: 7000, ids[submitted.partner]: 3000},
        )
        assert proposal(submitted.proposal_id).status == ProposalStatus.SUBMITTED
        assert not proposal(submitted.proposal_id).split_confirmed
        with pytest.raises(Conflict, match="not confirmed its current split"):
            decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Well done")
        team.confirm_split(
            user(submitted.partner),
            submitted.proposal_id,
            proposal(submitted.proposal_id).split_version,
        )
        award = decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Well done")
        assert sorted(award.shares.values()) == [300_000, 700_000]


def test_the_split_locks_at_award(app, people, submitted):
    with app.app_context():
        decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Well done")
        locked = proposal(submitted.proposal_id)
        assert locked.split_locked_at is not None
        ids = {m.email: m.id for m in locked.members}
        with pytest.raises(Conflict, match="locked"):
            team.set_split(
                user(submitted.lead),
                locked.id,
                {ids[submitted.lead]: 5000, ids[submitted.partner]: 5000},
            )
        with pytest.raises(Conflict, match="locked"):
            team.remove_member(user(submitted.partner), locked.id, ids[submitted.partner])
        with pytest.raises(Conflict):
            services.withdraw_proposal(user(submitted.lead), locked.id)


def test_withdrawn_proposals_leave_the_seekers_view(app, people, submitted):
    with app.app_context():
        assert get_proposal(user(people.manager), submitted.proposal_id)
        services.withdraw_proposal(user(submitted.lead), submitted.proposal_id)
        with pytest.raises(NotFound):
            get_proposal(user(people.manager), submitted.proposal_id)
        assert services.proposals_for_seeker(user(people.manager), submitted.challenge_id) == []
        assert get_proposal(user(submitted.partner), submitted.proposal_id)


def test_once_submitted_the_lead_cannot_remove_a_co_creator(app, people, submitted):
    with app.app_context():
        partner_id = next(
            m.id for m in proposal(submitted.proposal_id).members if m.email == submitted.partner
        )
        with pytest.raises(Conflict, match="cannot remove them"):
            team.remove_member(user(submitted.lead), submitted.proposal_id, partner_id)
        assert [m.share_bp for m in proposal(submitted.proposal_id).members] == [6000, 4000]
        team.remove_member(user(submitted.partner), submitted.proposal_id, partner_id)  # leaving
        assert [m.share_bp for m in proposal(submitted.proposal_id).members] == [10_000]


def test_a_zero_share_stops_submission_and_removal_never_takes_the_lead_past_100(app, people, need):
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        lead = user(people.solver)
        _, token = team.invite_member(lead, proposal_id, "partner@example.com")  # 0 %
        team.join_team(user("partner@example.com"), token)
        version = proposal(proposal_id).split_version
        team.confirm_split(user("partner@example.com"), proposal_id, version)
        with pytest.raises(Invalid) as refused:
            services.submit_proposal(lead, proposal_id)
        assert any("share above 0 %" in m for m in refused.value.errors["team"])
        member, _ = team.invite_member(lead, proposal_id, "third@example.com", 4000)
        team.remove_member(lead, proposal_id, member.id)
        assert proposal(proposal_id).members[0].share_bp == 10_000


def test_an_invitation_reaches_an_account_in_the_app_only_if_it_owns_the_address(app, people, need):
    from marketplace.notifications.models import Notification

    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        squatter = UserFactory(email="alice@corp.example")  # registered, never verified
        team.invite_member(user(people.solver), proposal_id, squatter.email)
        assert (
            db.session.scalar(
                db.select(db.func.count(Notification.id)).where(Notification.user_id == squatter.id)
            )
            == 0
        )
        verified = UserFactory(email="bob@corp.example", email_verified_at=utcnow())
        team.invite_member(user(people.solver), proposal_id, verified.email)
        link = db.session.scalar(
            db.select(Notification.link).where(Notification.user_id == verified.id)
        )
        assert link.startswith("/team-invitations/")
