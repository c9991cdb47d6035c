"""What the judging panel on a proposal's page shows one of the seeker's people: reviews and
standing, who is assigned and who could be, what they may do now, and the prizes left. A read
model for the pages; the services check every action again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ledger.currencies import exponent as currency_exponent
from marketplace.accounts.models import Membership, OrgRole, User
from marketplace.challenges.access import EDITORS, role_for
from marketplace.challenges.models import Challenge, Status
from marketplace.challenges.terms import Criterion
from marketplace.extensions import db
from marketplace.judging import decisions, reviews
from marketplace.judging.models import Decision, Review, ReviewAssignment
from marketplace.proposals.access import READERS, SENT
from marketplace.proposals.models import Proposal, ProposalStatus


@dataclass(frozen=True)
class Prize:
    rank: int
    amount: int
    left: int


def prizes_of(challenge: Challenge) -> list[Prize]:
    return [
        Prize(rank, amount, decisions.prize_left(challenge, rank))
        for rank, amount in enumerate(challenge.current_terms.terms.prizes, start=1)
    ]


def judging_open(proposal: Proposal) -> bool:
    """Whether the proposal still takes reviews and a decision (the services check again)."""
    return proposal.status == ProposalStatus.SUBMITTED and proposal.challenge.status in (
        Status.OPEN,
        Status.JUDGING,
    )


@dataclass(frozen=True)
class Panel:
    """What the judging panel of one proposal shows its viewer (a seeker's owner, manager or
    reviewer)."""

    proposal: Proposal
    role: OrgRole
    standing: reviews.Standing
    reviews: list[Review]
    assigned: list[User]
    candidates: list[User]
    criteria: tuple[Criterion, ...]
    my_review: Review | None
    may_review: bool
    may_decide: bool
    judging_open: bool
    decision: Decision | None
    prizes: list[Prize]
    currency: str
    exponent: int
    partial_awards: bool

    def my_entry(self, criterion: str) -> dict[str, Any]:
        """The viewer's earlier score and comment for ``criterion`` (to edit them)."""
        if self.my_review is None:
            return {}
        return next((e for e in self.my_review.scores if e["criterion"] == criterion), {})


def _organization_readers(challenge: Challenge) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organization_id == challenge.organization_id,
                Membership.role.in_([r.value for r in READERS]),
            )
            .order_by(User.name, User.id)
        )
    )


def panel_for(user: User | None, proposal: Proposal) -> Panel | None:
    """What the judging panel of a proposal shows ``user``, or None when they are not among
    the seeker's owners, managers and reviewers or the proposal was never sent."""
    if not getattr(user, "is_authenticated", False) or proposal.status not in SENT:
        return None
    challenge = proposal.challenge
    role = role_for(user, challenge)
    if role not in READERS:
        return None
    terms = challenge.current_terms.terms
    criteria = (proposal.terms_version or challenge.current_terms).terms.criteria
    found = reviews.reviews_of(user, proposal.id)
    assigned = list(
        db.session.scalars(
            select(User)
            .join(ReviewAssignment, ReviewAssignment.reviewer_id == User.id)
            .where(ReviewAssignment.proposal_id == proposal.id)
            .order_by(ReviewAssignment.id)
        )
    )
    may_decide = role in EDITORS
    candidates = (
        [
            u
            for u in _organization_readers(challenge)
            if u not in assigned and not reviews.on_team(u, proposal)
        ]
        if may_decide
        else []
    )
    return Panel(
        proposal=proposal,
        role=role,
        standing=reviews.standing(proposal),
        reviews=found,
        assigned=assigned,
        candidates=candidates,
        criteria=criteria,
        my_review=next((r for r in found if r.reviewer_id == user.id), None),
        may_review=reviews.is_assigned(user, proposal) and not reviews.on_team(user, proposal),
        may_decide=may_decide,
        judging_open=judging_open(proposal),
        decision=decisions.decision_of(proposal),
        prizes=prizes_of(challenge),
        currency=terms.currency,
        exponent=currency_exponent(terms.currency),
        partial_awards=terms.partial_awards,
    )
