"""Teams and agreed splits.

The lead invites co-creators by email, up to the terms' maximum team size, and proposes the
shares in basis points (they add up to 10,000). Every change of the team or the shares starts a
new split version that every member confirms again; the lead's own confirmation goes with the
change. A proposal is submitted only with every member's confirmation, and the split locks
when a prize is awarded.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.accounts.services import normalise_email
from marketplace.challenges.access import get_visible
from marketplace.challenges.services import eligibility_problem
from marketplace.db import command
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.notifications.services import notify
from marketplace.outbox import JobQueue
from marketplace.proposals.access import (
    get_proposal,
    may_see_need,
    require_changeable,
    require_lead,
    require_team,
)
from marketplace.proposals.models import MemberStatus, Proposal, ProposalStatus, TeamMember
from marketplace.queue import enqueue, enqueue_once

INVITATION_DAYS = 14
FULL = 10_000


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_unlocked(proposal: Proposal) -> None:
    if proposal.split_locked_at is not None:
        raise Conflict("The split locked when the prize was awarded.")
    if proposal.status in (ProposalStatus.WITHDRAWN, ProposalStatus.DECLINED):
        raise Conflict(f"The team of a {proposal.status} proposal cannot change.")


def _new_split_version(proposal: Proposal, lead: TeamMember) -> None:
    """The team or the shares changed: everyone confirms again, the lead by making it."""
    proposal.split_version += 1
    lead.confirmed_version = proposal.split_version
    lead.confirmed_at = utcnow()


def _tell_team(proposal: Proposal, except_user: int, title: str) -> None:
    notify(
        [m.user_id for m in proposal.joined if m.user_id != except_user],
        kind="team",
        title=title,
        link=f"/proposals/{proposal.id}#team",
    )


@command
def invite_member(
    user: User, proposal_id: int, email: str, share_bp: int = 0
) -> tuple[TeamMember, str]:
    """Invite a co-creator; returns the member row and the secret token of the join link."""
    proposal = get_proposal(user, proposal_id)
    lead = require_lead(user, proposal, "invite co-creators")
    require_changeable(proposal)
    _require_unlocked(proposal)
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or " " in email:
        raise Invalid("Please correct the highlighted fields.", {"email": ["Enter an email."]})
    if any(m.email == email for m in proposal.members):
        raise Invalid(
            "Please correct the highlighted fields.", {"email": [f"{email} is on the team."]}
        )
    maximum = proposal.challenge.current_terms.terms.max_team_size
    if len(proposal.members) >= maximum:
        raise Conflict(f"The terms allow teams of up to {maximum}.")
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or not 0 <= share_bp <= FULL:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"share_bp": ["A share is 0 to 10,000 basis points."]},
        )
    token = secrets.token_urlsafe(32)
    member = TeamMember(
        email=email,
        status=MemberStatus.INVITED,
        share_bp=share_bp,
        invitation_sha256=_token_hash(token),
        invited_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            proposal.members.append(member)
            _new_split_version(proposal, lead)
    except IntegrityError as error:  # the same address invited twice at once
        raise Invalid(
            "Please correct the highlighted fields.", {"email": [f"{email} is on the team."]}
        ) from error
    # The link goes to the address itself; an account holding that address hears of it in
    # the app too, but only once it proved it owns the address (no squatting on invitations).
    enqueue("send_team_invitation", member.id, token, queue=JobQueue.EMAILS)
    invitee = db.session.scalar(
        select(User).where(User.email == email, User.email_verified_at.is_not(None))
    )
    if invitee is not None:
        notify(
            [invitee.id],
            kind="team_invitation",
            title=f"{user.name} invites you to co-create “{proposal.title}”",
            body=f"For the need “{proposal.challenge.title}”."
            if may_see_need(invitee, proposal)
            else "For a need that is not open to you yet.",
            link=f"/team-invitations/{token}",
        )
    return member, token


def invitation(token: str) -> TeamMember:
    """The open invitation of this link; an unknown or used link is refused."""
    member = db.session.scalar(
        select(TeamMember).where(TeamMember.invitation_sha256 == _token_hash(token or ""))
    )
    if member is None or member.status != MemberStatus.INVITED:
        raise Invalid("This team invitation link is not valid or was used already.")
    if member.invited_at + timedelta(days=INVITATION_DAYS) <= utcnow():
        raise Invalid("This team invitation has expired; ask the lead for a new one.")
    return member


@command
def join_team(user: User, token: str) -> Proposal:
    """The invited person joins, signed in with the invited address, if eligible."""
    member = invitation(token)
    if member.email != user.email:
        raise Invalid(f"This invitation is for {member.email}; sign in with that address.")
    proposal = member.proposal
    _require_unlocked(proposal)
    challenge = proposal.challenge
    try:
        get_visible(user, challenge.id)
    except NotFound:
        raise Conflict("This need is not open to you; ask the seeker for access.") from None
    problem = eligibility_problem(user, challenge, challenge.current_terms.terms)
    if problem:
        raise Conflict(problem)
    if any(m.user_id == user.id for m in proposal.members):
        raise Conflict("You are on this team already.")
    member.user_id = user.id
    member.status = MemberStatus.JOINED
    member.joined_at = utcnow()
    member.invitation_sha256 = None
    enqueue_once("refresh_solver_facts", challenge.organization_id)  # the insight's solver facts
    _tell_team(proposal, user.id, f"{user.name} joined the team of “{proposal.title}”")
    return proposal


@command
def set_split(user: User, proposal_id: int, shares: dict[int, int]) -> Proposal:
    """The lead proposes the shares: {member id: basis points}, every member, adding to 100 %."""
    proposal = get_proposal(user, proposal_id)
    lead = require_lead(user, proposal, "change the split")
    _require_unlocked(proposal)
    ids = {m.id for m in proposal.members}
    errors: dict[str, list[str]] = {}
    if set(shares) != ids:
        errors["shares"] = ["Give a share for every member of the team, and no one else."]
    elif any(
        isinstance(bp, bool) or not isinstance(bp, int) or not 1 <= bp <= FULL
        for bp in shares.values()
    ):
        errors["shares"] = ["Each share is 1 to 10,000 basis points (0.01 % to 100 %)."]
    elif sum(shares.values()) != FULL:
        total = sum(shares.values())
        errors["shares"] = [f"The shares add up to {total / 100:.2f} %, not 100 %."]
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    if all(m.share_bp == shares[m.id] for m in proposal.members):
        return proposal
    for member in proposal.members:
        member.share_bp = shares[member.id]
    _new_split_version(proposal, lead)
    _tell_team(proposal, user.id, f"Confirm the new split of “{proposal.title}”")
    return proposal


@command
def confirm_split(user: User, proposal_id: int, version: int) -> Proposal:
    """A member agrees to split ``version``; a confirmation of an older version is refused."""
    proposal = get_proposal(user, proposal_id)
    member = require_team(user, proposal)
    _require_unlocked(proposal)
    if version != proposal.split_version:
        raise Conflict("The split changed since you looked at it; review it again.")
    if sum(m.share_bp for m in proposal.members) != FULL:
        raise Conflict("The shares do not add up to 100 % yet; the lead must set them first.")
    member.confirmed_version = version
    member.confirmed_at = utcnow()
    return proposal


@command
def remove_member(user: User, proposal_id: int, member_id: int) -> Proposal:
    """The lead removes a co-creator or an invitation, or a member leaves; shares are then
    set again by the lead."""
    proposal = get_proposal(user, proposal_id)
    acting = require_team(user, proposal)
    _require_unlocked(proposal)
    member = next((m for m in proposal.members if m.id == member_id), None)
    if member is None:
        raise NotFound("No such team member.")
    if not acting.is_lead and member.id != acting.id:
        raise Forbidden("Only the lead may remove someone else.")
    if member.is_lead:
        raise Conflict("The lead cannot leave the team; withdraw the proposal instead.")
    if member.id != acting.id and proposal.status != ProposalStatus.DRAFT:
        raise Conflict(
            "Once submitted, co-creators leave only of their own accord: the lead cannot "
            "remove them."
        )
    lead = next(m for m in proposal.members if m.is_lead)
    # The lead takes the share back (never past 100 %) and may then split again; everyone
    # confirms the new version.
    lead.share_bp = min(FULL, lead.share_bp + member.share_bp)
    proposal.members.remove(member)
    enqueue_once("refresh_solver_facts", proposal.challenge.organization_id)  # insight
    _new_split_version(proposal, lead)
    _tell_team(proposal, user.id, f"The team of “{proposal.title}” changed; confirm the split")
    return proposal
