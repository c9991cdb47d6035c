"""The rules of a proposal's life: draft, edit until the deadline, submit, withdraw.

Every public command takes the acting user, checks who may do it, and runs in one
transaction (its caller's, or its own): all of it, or nothing. Team and split rules are in
``team``, files in ``attachments``, the private thread in ``messages``; decisions belong to
``marketplace.judging``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.audit.log import record
from marketplace.challenges.access import EDITORS, get_visible, require, role_for
from marketplace.challenges.models import Challenge, Status
from marketplace.challenges.services import accepted_version, eligibility_problem
from marketplace.db import command
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import db
from marketplace.notifications.services import notify
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page
from marketplace.proposals.access import (
    READERS,
    SENT,
    get_proposal,
    require_changeable,
    require_lead,
    require_team,
    seeker_sees,
)
from marketplace.proposals.models import MemberStatus, Proposal, ProposalStatus, TeamMember
from marketplace.queue import enqueue_once
from marketplace.text_rules import require_one_line

TEXT_FIELDS = ("title", "summary", "description", "approach")
#: Filled in before a proposal may be submitted.
REQUIRED_TO_SUBMIT = ("title", "summary", "description")


def _apply(proposal: Proposal, data: dict[str, Any]) -> None:
    for name in TEXT_FIELDS:
        if name in data:
            setattr(proposal, name, (data[name] or "").strip())


def why_not_propose(user: User, challenge: Challenge) -> str | None:
    """Why ``user`` may not write a proposal for this need now; None when they may."""
    if challenge.status != Status.OPEN:
        return "Proposals can be written while the need is open."
    problem = eligibility_problem(user, challenge, challenge.current_terms.terms)
    if problem:
        return problem
    if accepted_version(user, challenge) is None:
        return "Accept the need's terms before writing a proposal."
    return None


@command
def create_proposal(user: User, challenge_id: int, data: dict[str, Any]) -> Proposal:
    """A draft proposal led by ``user``, who must have accepted the terms and be eligible."""
    challenge = get_visible(user, challenge_id)
    refusal = why_not_propose(user, challenge)
    if refusal:
        raise Conflict(refusal)
    if not (data.get("title") or "").strip():
        raise Invalid("Please correct the highlighted fields.", {"title": ["Give a title."]})
    require_one_line("title", data.get("title"))
    proposal = Proposal(challenge=challenge, lead_id=user.id, split_version=1)
    _apply(proposal, data)
    proposal.members.append(
        TeamMember(
            user_id=user.id,
            email=user.email,
            is_lead=True,
            status=MemberStatus.JOINED,
            share_bp=10_000,
            confirmed_version=1,
            confirmed_at=utcnow(),
            joined_at=utcnow(),
        )
    )
    db.session.add(proposal)
    db.session.flush()  # a caller in the same transaction gets its id
    record("proposal.create", obj=proposal, actor=user)
    return proposal


@command
def update_proposal(user: User, proposal_id: int, data: dict[str, Any]) -> Proposal:
    """Any member edits the text until the deadline (a submitted proposal stays submitted)."""
    proposal = get_proposal(user, proposal_id)
    require_team(user, proposal)
    require_changeable(proposal)
    if "title" in data and not (data["title"] or "").strip():
        raise Invalid("Please correct the highlighted fields.", {"title": ["Give a title."]})
    if "title" in data:
        require_one_line("title", data["title"])
    _apply(proposal, data)
    record("proposal.edit", obj=proposal, organization_id=seeker_sees(proposal), actor=user)
    return proposal


def submission_problems(proposal: Proposal) -> dict[str, list[str]]:
    """What stands between this proposal and submission, by field ('team' for the team)."""
    problems: dict[str, list[str]] = {}
    for name in REQUIRED_TO_SUBMIT:
        if not getattr(proposal, name):
            problems.setdefault(name, []).append("Fill this in before submitting.")
    challenge = proposal.challenge
    version = challenge.current_terms
    team: list[str] = []
    for member in proposal.members:
        if member.status != MemberStatus.JOINED:
            team.append(f"{member.email} has not joined the team yet (or remove the invitation).")
            continue
        who = member.user
        problem = eligibility_problem(who, challenge, version.terms)
        if problem:
            team.append(f"{who.name}: {problem}")
        if accepted_version(who, challenge) != version.version:
            team.append(f"{who.name} must accept terms version {version.version}.")
    if sum(m.share_bp for m in proposal.members) != 10_000:
        team.append("The shares must add up to 100 %.")
    elif any(m.share_bp <= 0 for m in proposal.members):
        team.append("Every co-creator needs a share above 0 %; set the split again.")
    elif not proposal.split_confirmed:
        waiting = [m.email for m in proposal.members if not m.confirmed]
        if waiting:
            team.append("Waiting for split confirmation from " + ", ".join(waiting) + ".")
    if team:
        problems["team"] = team
    return problems


@command
def submit_proposal(user: User, proposal_id: int) -> Proposal:
    """The lead sends the proposal to the seeker, under the current terms version."""
    proposal = get_proposal(user, proposal_id)
    require_lead(user, proposal, "submit the proposal")
    require_changeable(proposal)
    if proposal.status == ProposalStatus.SUBMITTED:
        return proposal
    problems = submission_problems(proposal)
    if problems:
        raise Invalid("The proposal is not ready to submit.", problems)
    challenge = proposal.challenge
    proposal.status = ProposalStatus.SUBMITTED
    proposal.submitted_at = utcnow()
    proposal.terms_version_id = challenge.current_terms.id
    record("proposal.submit", obj=proposal, organization_id=seeker_sees(proposal), actor=user)
    enqueue_once("refresh_solver_facts", challenge.organization_id)  # the insight's solver facts
    notify(
        _seeker_editors(challenge),
        kind="proposal_submitted",
        title=f"New proposal for “{challenge.title}”: {proposal.title}",
        link=f"/proposals/{proposal.id}",
    )
    return proposal


@command
def withdraw_proposal(user: User, proposal_id: int) -> Proposal:
    """The lead takes the proposal back, until the seeker has decided on it."""
    proposal = get_proposal(user, proposal_id)
    require_lead(user, proposal, "withdraw the proposal")
    if proposal.status not in (ProposalStatus.DRAFT, ProposalStatus.SUBMITTED):
        raise Conflict(f"A {proposal.status} proposal cannot be withdrawn.")
    was_sent = proposal.status == ProposalStatus.SUBMITTED
    proposal.status = ProposalStatus.WITHDRAWN
    proposal.withdrawn_at = utcnow()
    record("proposal.withdraw", obj=proposal, organization_id=seeker_sees(proposal), actor=user)
    if was_sent:
        enqueue_once("refresh_solver_facts", proposal.challenge.organization_id)  # insight
        notify(
            _seeker_editors(proposal.challenge),
            kind="proposal_withdrawn",
            title=f"A proposal for “{proposal.challenge.title}” was withdrawn: {proposal.title}",
            link=f"/challenges/{proposal.challenge_id}/proposals",
        )
    return proposal


def _seeker_editors(challenge: Challenge) -> list[int]:
    return [m.user_id for m in challenge.organization.memberships if m.role in EDITORS]


def seeker_challenge(user: User, challenge_id: int) -> Challenge:
    """The need, if ``user`` is among its owners, managers and reviewers (404 or 403)."""
    challenge = get_visible(user, challenge_id)
    require(user, challenge, READERS, "read the proposals")
    return challenge


def proposals_for_seeker(user: User, challenge_id: int) -> list[Proposal]:
    """The proposals a need received (submitted or decided), for its owners, managers and
    reviewers."""
    challenge = seeker_challenge(user, challenge_id)
    return list(
        db.session.scalars(
            select(Proposal)
            .where(Proposal.challenge_id == challenge.id, Proposal.status.in_(SENT))
            .order_by(Proposal.submitted_at, Proposal.id)
        )
    )


def proposals_for(
    user: User, challenge_id: int, *, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[Proposal]:
    """A page of a need's proposals as ``user`` may list them: the seeking organization's
    owners, managers and reviewers get the ones sent to it, oldest submission first (its
    finance members are refused); anyone else gets their own, drafts included, newest first.
    Needs and teams come in one statement each, whatever the page's length."""
    challenge = get_visible(user, challenge_id)
    loaded = (selectinload(Proposal.members), joinedload(Proposal.challenge))
    if role_for(user, challenge) is not None:
        require(user, challenge, READERS, "read the proposals")
        query = select(Proposal).where(
            Proposal.challenge_id == challenge.id, Proposal.status.in_(SENT)
        )
        return keyset_page(
            query.options(*loaded),
            [Proposal.submitted_at, Proposal.id],
            cursor=cursor,
            per_page=per_page,
            descending=False,
            scalars=True,
        )
    query = (
        select(Proposal)
        .join(TeamMember, TeamMember.proposal_id == Proposal.id)
        .where(
            Proposal.challenge_id == challenge.id,
            TeamMember.user_id == user.id,
            TeamMember.status == MemberStatus.JOINED,
        )
    )
    return keyset_page(
        query.options(*loaded), [Proposal.id], cursor=cursor, per_page=per_page, scalars=True
    )
