"""A need open for proposals, solvers who accepted its terms, and a submitted two-person
proposal with a 60/40 split. Shared by the proposals and judging tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Organization
from marketplace.challenges import services as needs
from marketplace.extensions import db
from marketplace.proposals import services, team
from marketplace.proposals.models import Proposal
from tests.challenges.conftest import create, fund_and_open, people, user  # noqa: F401
from tests.factories import UserFactory, make_need, make_terms

PROPOSAL = {
    "title": "Cellulose nanofibre liner",
    "summary": "A home-compostable liner from wood pulp.",
    "description": "Our liner is **cellulose** with a chitosan coating.",
    "approach": "Pilot line trials in Q3.",
}


def accept(app, email: str, challenge_id: int) -> None:
    with app.app_context():
        needs.accept_terms(user(email), challenge_id)


def draft_proposal(app, email: str, challenge_id: int, **changes: str) -> int:
    with app.app_context():
        return services.create_proposal(user(email), challenge_id, {**PROPOSAL, **changes}).id


def member_id(app, proposal_id: int, email: str) -> int:
    with app.app_context():
        proposal = db.session.get(Proposal, proposal_id)
        return next(m.id for m in proposal.members if m.email == email)


def build_team(app, proposal_id: int, lead: str, partner: str, shares=(6000, 4000)) -> str:
    """The lead invites ``partner``, who joins; the lead sets the split and the partner
    confirms it. Returns the (used) invitation token."""
    with app.app_context():
        _, token = team.invite_member(user(lead), proposal_id, partner)
        team.join_team(user(partner), token)
        proposal = db.session.get(Proposal, proposal_id)
        ids = {m.email: m.id for m in proposal.members}
        team.set_split(user(lead), proposal_id, {ids[lead]: shares[0], ids[partner]: shares[1]})
        version = db.session.get(Proposal, proposal_id).split_version
        team.confirm_split(user(partner), proposal_id, version)
    return token


def need_with(app, people, **terms) -> int:  # noqa: F811
    """An open, funded need of Acme with terms changed by ``terms``."""
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        challenge_id = needs.create_challenge(
            user(people.manager), acme, make_need(), make_terms(**terms)
        ).id
    fund_and_open(app, people, challenge_id)
    return challenge_id


def submit(app, lead: str, challenge_id: int, partners=(), shares=None) -> int:
    """A submitted proposal of ``lead`` with ``partners`` (who accepted the terms) on the
    team, split by ``shares`` (basis points, lead first) and confirmed by everyone."""
    proposal_id = draft_proposal(app, lead, challenge_id)
    with app.app_context():
        lead_user = user(lead)
        tokens = [team.invite_member(lead_user, proposal_id, p)[1] for p in partners]
        for partner, token in zip(partners, tokens, strict=True):
            team.join_team(user(partner), token)
        members = db.session.get(Proposal, proposal_id).members
        if shares:
            team.set_split(
                lead_user, proposal_id, dict(zip([m.id for m in members], shares, strict=True))
            )
        version = db.session.get(Proposal, proposal_id).split_version
        for partner in partners:
            team.confirm_split(user(partner), proposal_id, version)
        services.submit_proposal(lead_user, proposal_id)
    return proposal_id


@pytest.fixture
def need(app, people) -> int:  # noqa: F811
    """An open, funded need of Acme (prizes 10,000.00 and 5,000.00 USD, 10 % fee) with two
    solvers who accepted its terms."""
    challenge_id = create(app, people)
    fund_and_open(app, people, challenge_id)
    with app.app_context():
        UserFactory(email="partner@example.com", name="Pat Partner")
    for email in (people.solver, "partner@example.com", people.other_solver):
        accept(app, email, challenge_id)
    return challenge_id


@pytest.fixture
def submitted(app, people, need) -> SimpleNamespace:  # noqa: F811
    """A submitted proposal led by the solver with partner@example.com, split 60/40."""
    proposal_id = draft_proposal(app, people.solver, need)
    build_team(app, proposal_id, people.solver, "partner@example.com")
    with app.app_context():
        services.submit_proposal(user(people.solver), proposal_id)
    return SimpleNamespace(
        challenge_id=need, proposal_id=proposal_id, lead=people.solver,
        partner="partner@example.com",
    )  # fmt: skip
