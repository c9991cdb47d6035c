"""Who may see a proposal. A proposal is confidential: its team (members who joined) and the
seeking organization's owners, managers and reviewers read it; platform admins who may see
the need see metadata only unless the terms allow more; everyone else gets 404, as if it did
not exist.

The seeker sees a proposal once it is submitted (drafts and withdrawn ones stay the team's).
"""

from __future__ import annotations

import enum

from sqlalchemy import select

from ledger import as_utc, utcnow
from marketplace.accounts.models import OrgRole, User
from marketplace.challenges.access import role_for, visible_to
from marketplace.challenges.models import Challenge
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.extensions import db
from marketplace.proposals.models import MemberStatus, Proposal, ProposalStatus, TeamMember

#: The seeker's roles that read and judge proposals (finance members do not).
READERS = (OrgRole.OWNER, OrgRole.MANAGER, OrgRole.REVIEWER)
#: A proposal the seeker has been sent.
SENT = (ProposalStatus.SUBMITTED, ProposalStatus.AWARDED, ProposalStatus.DECLINED)


class Side(enum.StrEnum):
    TEAM = "team"
    SEEKER = "seeker"
    ADMIN = "admin"  # metadata only, unless the terms allow more


def _signed_in(user: User | None) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def membership(user: User | None, proposal: Proposal) -> TeamMember | None:
    """The user's place on the team, if they joined it."""
    if not _signed_in(user):
        return None
    return next(
        (m for m in proposal.members if m.user_id == user.id and m.status == MemberStatus.JOINED),
        None,
    )


def side_of(user: User | None, proposal: Proposal) -> Side | None:
    if not _signed_in(user):
        return None
    if membership(user, proposal) is not None:
        return Side.TEAM
    if proposal.status in SENT and role_for(user, proposal.challenge) in READERS:
        return Side.SEEKER
    if user.is_admin and proposal.status != ProposalStatus.DRAFT and may_see_need(user, proposal):
        return Side.ADMIN
    return None


def may_see_need(user: User | None, proposal: Proposal) -> bool:
    """Whether ``user`` may see the proposal's need. A proposal never tells its need's title
    or details to anyone else: a platform admin refused the need (404) does not reach its
    proposals either, and a team member outside an internal need sees only that there is one.
    """
    found = select(Challenge.id).where(Challenge.id == proposal.challenge_id, visible_to(user))
    return db.session.scalar(found) is not None


def reads_in_full(user: User | None, proposal: Proposal) -> bool:
    side = side_of(user, proposal)
    if side == Side.ADMIN:
        terms = proposal.terms_version or proposal.challenge.current_terms
        return terms.terms.admins_may_read
    return side is not None


def get_proposal(user: User | None, proposal_id: int) -> Proposal:
    """The proposal, if ``user`` may read it in full; otherwise 404."""
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or not reads_in_full(user, proposal):
        raise NotFound("No such proposal.")
    return proposal


def get_proposal_metadata(user: User | None, proposal_id: int) -> tuple[Proposal, bool]:
    """The proposal and whether ``user`` may read it in full; 404 for anyone outside it."""
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or side_of(user, proposal) is None:
        raise NotFound("No such proposal.")
    return proposal, reads_in_full(user, proposal)


def require_team(user: User, proposal: Proposal) -> TeamMember:
    member = membership(user, proposal)
    if member is None:
        raise Forbidden("Only the proposal's team may do this.")
    return member


def require_lead(user: User, proposal: Proposal, doing: str) -> TeamMember:
    member = require_team(user, proposal)
    if not member.is_lead:
        raise Forbidden(f"Only the team lead may {doing}.")
    return member


def require_changeable(proposal: Proposal) -> None:
    """Text, files and team change only before the deadline and before any decision."""
    if proposal.status not in (ProposalStatus.DRAFT, ProposalStatus.SUBMITTED):
        raise Conflict(f"A {proposal.status} proposal cannot change.")
    challenge = proposal.challenge
    if challenge.status != "open" or as_utc(challenge.deadline) <= utcnow():
        raise Conflict("The need's deadline has passed: the proposal can no longer change.")


def proposals_of(user: User, *, challenge_id: int) -> list[Proposal]:
    """The proposals for one need that the user is on the team of, newest first."""
    return list(
        db.session.scalars(
            select(Proposal)
            .join(TeamMember, TeamMember.proposal_id == Proposal.id)
            .where(
                Proposal.challenge_id == challenge_id,
                TeamMember.user_id == user.id,
                TeamMember.status == MemberStatus.JOINED,
            )
            .order_by(Proposal.id.desc())
        )
    )


def seeker_sees(proposal: Proposal) -> int | None:
    """The seeking organization, once the proposal was sent to it: its owners see the
    proposal's audit events. A draft is the team's own, so its events name no organization."""
    return proposal.challenge.organization_id if proposal.submitted_at is not None else None
