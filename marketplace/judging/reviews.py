"""Reviewers and their scores. Managers assign reviewers from the seeking organization; each
scores every criterion of the terms from 0 to 10 with a comment. Nobody reviews a proposal
whose team they are on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import Membership, User
from marketplace.audit.log import record
from marketplace.challenges.access import EDITORS, require
from marketplace.db import command
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.extensions import db
from marketplace.judging.models import Decision, Review, ReviewAssignment
from marketplace.notifications.services import notify
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page
from marketplace.proposals.access import READERS, SENT, get_proposal
from marketplace.proposals.models import Proposal, ProposalStatus


def on_team(user: User, proposal: Proposal) -> bool:
    """On the team, or invited to it: either way too close to judge it."""
    return any(m.user_id == user.id or m.email == user.email for m in proposal.members)


def _require_undecided(proposal: Proposal) -> None:
    if proposal.status != ProposalStatus.SUBMITTED:
        raise Conflict(f"A {proposal.status} proposal is not being judged.")


@command
def assign_reviewer(actor: User, proposal_id: int, reviewer_id: int) -> ReviewAssignment:
    """A manager asks a member of the organization to review; a team member is refused."""
    proposal = get_proposal(actor, proposal_id)
    require(actor, proposal.challenge, EDITORS, "assign reviewers")
    _require_undecided(proposal)
    if (
        isinstance(reviewer_id, bool)
        or not isinstance(reviewer_id, int)
        or not (0 < reviewer_id < 2**63)
    ):
        raise Invalid(
            "Please correct the highlighted fields.", {"reviewer_id": ["Choose a reviewer."]}
        )
    role = db.session.scalar(
        select(Membership.role).where(
            Membership.organization_id == proposal.challenge.organization_id,
            Membership.user_id == reviewer_id,
        )
    )
    if role not in READERS:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"reviewer_id": ["Choose an owner, manager or reviewer of the organization."]},
        )
    if on_team(db.session.get(User, reviewer_id), proposal):
        raise Conflict("A member of the proposal's team cannot review it.")
    assigned = select(ReviewAssignment).where(
        ReviewAssignment.proposal_id == proposal.id, ReviewAssignment.reviewer_id == reviewer_id
    )
    existing = db.session.scalar(assigned)
    if existing:
        return existing
    assignment = ReviewAssignment(
        proposal_id=proposal.id, reviewer_id=reviewer_id, assigned_by_id=actor.id
    )
    try:
        with db.session.begin_nested():
            db.session.add(assignment)
    except IntegrityError:  # the same assignment made twice at once: the first one stands
        return db.session.scalars(assigned).one()
    facts = {"proposal_id": proposal.id, "reviewer_id": reviewer_id}
    record("review.assign", obj=assignment, actor=actor, details=facts,
           organization_id=proposal.challenge.organization_id)  # fmt: skip
    notify(
        [reviewer_id],
        kind="review_assigned",
        title=f"Please review “{proposal.title}”",
        link=f"/proposals/{proposal.id}#review",
    )
    return assignment


def is_assigned(user: User, proposal: Proposal) -> bool:
    return bool(
        db.session.scalar(
            select(ReviewAssignment.id).where(
                ReviewAssignment.proposal_id == proposal.id,
                ReviewAssignment.reviewer_id == user.id,
            )
        )
    )


def _scores(proposal: Proposal, entries: list[dict[str, Any]]) -> tuple[list[dict], int]:
    """Check one score per criterion of the terms; returns the stored list and the weighted
    score times 100."""
    terms = (proposal.terms_version or proposal.challenge.current_terms).terms
    criteria = {c.name: c.weight for c in terms.criteria}
    given = {e.get("criterion"): e for e in entries}
    errors: dict[str, list[str]] = {}
    if set(given) != set(criteria) or len(entries) != len(criteria):
        errors["scores"] = ["Score each criterion once: " + ", ".join(criteria) + "."]
    stored = []
    for name, weight in criteria.items():
        entry = given.get(name) or {}
        score, comment = entry.get("score"), (entry.get("comment") or "").strip()
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
            errors.setdefault(name, []).append("Score from 0 to 10.")
        if not comment or len(comment) > 4000:
            errors.setdefault(name, []).append("Write a comment (at most 4,000 characters).")
        stored.append({"criterion": name, "weight": weight, "score": score, "comment": comment})
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    weighted = sum(e["score"] * e["weight"] for e in stored)  # weights add up to 100
    return stored, weighted


@command
def submit_review(actor: User, proposal_id: int, entries: list[dict[str, Any]]) -> Review:
    """An assigned reviewer scores the proposal (again, until it is decided)."""
    proposal = get_proposal(actor, proposal_id)
    require(actor, proposal.challenge, READERS, "review proposals")
    if on_team(actor, proposal):
        raise Forbidden("A member of the proposal's team cannot review it.")
    if not is_assigned(actor, proposal):
        raise Forbidden("Only reviewers assigned to this proposal may score it.")
    _require_undecided(proposal)
    stored, weighted = _scores(proposal, entries)
    review = db.session.scalar(
        select(Review).where(Review.proposal_id == proposal.id, Review.reviewer_id == actor.id)
    )
    if review is None:
        review = Review(proposal_id=proposal.id, reviewer_id=actor.id)
        db.session.add(review)
    review.scores = stored
    review.weighted_centi = weighted
    return review


def reviews_of(actor: User, proposal_id: int) -> list[Review]:
    """Every review of a proposal, for the seeker's owners, managers and reviewers."""
    proposal = get_proposal(actor, proposal_id)
    require(actor, proposal.challenge, READERS, "read reviews")
    return list(
        db.session.scalars(
            select(Review).where(Review.proposal_id == proposal.id).order_by(Review.id)
        )
    )


@dataclass(frozen=True)
class Standing:
    """A proposal's place on the scoreboard. Scores are hundredths (0-1000 = 0.00-10.00)."""

    proposal: Proposal
    reviews: int
    mean_centi: int | None
    spread_centi: int | None
    decision: Decision | None


def standing(proposal: Proposal) -> Standing:
    weights = list(
        db.session.scalars(select(Review.weighted_centi).where(Review.proposal_id == proposal.id))
    )
    decision = db.session.scalar(select(Decision).where(Decision.proposal_id == proposal.id))
    if not weights:
        return Standing(proposal, 0, None, None, decision)
    mean = (sum(weights) * 2 + len(weights)) // (2 * len(weights))  # rounded half up
    return Standing(proposal, len(weights), mean, max(weights) - min(weights), decision)


def scoreboard(
    actor: User, challenge_id: int, *, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[Standing]:
    """A page of the proposals of a need, best mean score first (unscored last), then oldest
    first. Scores are aggregated in SQL over the need's reviews; a page costs the same few
    statements (proposals with their scores, team members, decisions with awards) whatever
    its length."""
    from marketplace.proposals.services import seeker_challenge

    challenge = seeker_challenge(actor, challenge_id)
    scores = (
        select(
            Review.proposal_id.label("proposal_id"),
            func.count(Review.id).label("n"),
            cast(func.sum(Review.weighted_centi), BigInteger).label("total"),
            func.min(Review.weighted_centi).label("low"),
            func.max(Review.weighted_centi).label("high"),
        )
        .join(Proposal, Proposal.id == Review.proposal_id)
        .where(Proposal.challenge_id == challenge.id)
        .group_by(Review.proposal_id)
        .subquery()
    )
    mean = (scores.c.total * 2 + scores.c.n) // (scores.c.n * 2)  # rounded half up
    # One direction for the keyset: best mean first (unscored as -1: last), then by id.
    rank = func.coalesce(mean, -1).label("rank")
    after = (-Proposal.id).label("after")
    query = (
        select(Proposal, scores.c.n, mean.label("mean"), (scores.c.high - scores.c.low), rank)
        .outerjoin(scores, scores.c.proposal_id == Proposal.id)
        .where(Proposal.challenge_id == challenge.id, Proposal.status.in_(SENT))
        .options(selectinload(Proposal.members))
    )
    page = keyset_page(
        query,
        [rank, after],
        cursor=cursor,
        per_page=per_page,
        key=lambda row: (row[4], -row[0].id),
    )
    ids = [row[0].id for row in page.items]
    decided = {
        d.proposal_id: d
        for d in db.session.scalars(
            select(Decision).where(Decision.proposal_id.in_(ids)).options(selectinload(Decision.award))
        )
    } if ids else {}  # fmt: skip
    standings = [
        Standing(proposal, n or 0, mean_centi, spread if n else None, decided.get(proposal.id))
        for proposal, n, mean_centi, spread, _ in page.items
    ]
    return KeysetPage(standings, page.per_page, page.next_cursor, page.has_previous)


@command
def set_shortlisted(actor: User, proposal_id: int, shortlisted: bool) -> Proposal:
    proposal = get_proposal(actor, proposal_id)
    require(actor, proposal.challenge, EDITORS, "shortlist proposals")
    _require_undecided(proposal)
    proposal.shortlisted = bool(shortlisted)
    return proposal
