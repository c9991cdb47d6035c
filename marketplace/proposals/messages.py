"""The private thread of a proposal: its team and the seeker talk, and each side is told
when the other writes. Nobody else reads it."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.challenges.access import EDITORS
from marketplace.db import command
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import db
from marketplace.notifications.services import notify
from marketplace.proposals.access import SENT, Side, get_proposal, side_of
from marketplace.proposals.models import Message, Proposal

MAX_LENGTH = 10_000


def thread(user: User | None, proposal_id: int) -> list[Message]:
    proposal = get_proposal(user, proposal_id)
    return list(
        db.session.scalars(
            select(Message).where(Message.proposal_id == proposal.id).order_by(Message.id)
        )
    )


def _seeker_audience(proposal: Proposal) -> list[int]:
    """The seeker's owners and managers, and the reviewers assigned to this proposal."""
    from marketplace.judging.models import ReviewAssignment

    staff = [m.user_id for m in proposal.challenge.organization.memberships if m.role in EDITORS]
    reviewers = db.session.scalars(
        select(ReviewAssignment.reviewer_id).where(ReviewAssignment.proposal_id == proposal.id)
    )
    return [*staff, *reviewers]


@command
def post_message(user: User, proposal_id: int, body: str) -> Message:
    proposal = get_proposal(user, proposal_id)
    side = side_of(user, proposal)
    if side not in (Side.TEAM, Side.SEEKER):
        raise Conflict("Only the team and the seeker write in this thread.")
    if proposal.status not in SENT:
        raise Conflict("The thread with the seeker opens when the proposal is submitted.")
    body = (body or "").strip()
    if not body or len(body) > MAX_LENGTH:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"body": [f"Write 1 to {MAX_LENGTH:,} characters."]},
        )
    message = Message(proposal_id=proposal.id, author_id=user.id, side=side.value, body=body)
    db.session.add(message)
    db.session.flush()
    if side == Side.TEAM:
        recipients = _seeker_audience(proposal)
        title = f"Message from the team of “{proposal.title}”"
    else:
        recipients = [m.user_id for m in proposal.joined]
        title = f"{proposal.challenge.organization.name} wrote about “{proposal.title}”"
    notify(
        [uid for uid in recipients if uid != user.id],
        kind="proposal_message",
        title=title,
        body=body[:500],
        link=f"/proposals/{proposal.id}#messages",
    )
    return message
