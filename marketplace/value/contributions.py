"""Who contributed what to an awarded solution.

The locked proposal split is the first record (one contribution per co-creator, weighted by
their share in basis points, confirmed when the team confirmed the split). Afterwards the
seeker records further contributions (co-development, a follow-up improvement) with a weight
in the same units and a description; each person confirms their own before it counts. The
confirmed weights split every later value share (``weights``).
"""

from __future__ import annotations

from sqlalchemy import func, select

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.accounts.services import normalise_email
from marketplace.challenges.access import EDITORS, is_staff, require
from marketplace.db import command
from marketplace.errors import Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.judging.models import Award
from marketplace.notifications.services import notify
from marketplace.proposals.access import get_proposal
from marketplace.proposals.models import Proposal
from marketplace.value.models import Contribution, ContributionKind

MAX_WEIGHT = 1_000_000


def record_split(award: Award, proposal: Proposal) -> list[Contribution]:
    """The award's first contributions: the locked split (inside the award's transaction)."""
    records = [
        Contribution(
            award_id=award.id,
            user_id=member.user_id,
            kind=ContributionKind.SPLIT,
            weight=member.share_bp,
            description="Agreed share of the proposal's split",
            recorded_by_id=member.user_id,
            recorded_at=award.awarded_at,
            confirmed_at=member.confirmed_at or award.awarded_at,
        )
        for member in proposal.members
        if member.share_bp > 0
    ]
    db.session.add_all(records)
    return records


def get_award(actor: User, award_id: int) -> Award:
    """An award, for the people who may read its proposal (its team, the seeker's readers)."""
    award = db.session.get(Award, award_id)
    if award is None:
        raise NotFound("No such award.")
    get_proposal(actor, award.proposal_id)
    return award


def contributions_of(actor: User, award_id: int) -> list[Contribution]:
    award = get_award(actor, award_id)
    return list(
        db.session.scalars(
            select(Contribution).where(Contribution.award_id == award.id).order_by(Contribution.id)
        )
    )


@command
def record_contribution(
    actor: User, award_id: int, email: str, weight: int, description: str
) -> Contribution:
    """The seeker's owners and managers record a later contribution; the person confirms it."""
    award = get_award(actor, award_id)
    proposal = db.session.get(Proposal, award.proposal_id)
    require(actor, proposal.challenge, EDITORS, "record contributions")
    errors: dict[str, list[str]] = {}
    person = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if person is None:
        errors["email"] = ["No one with this email has an account."]
    elif is_staff(person, proposal.challenge):
        errors["email"] = [
            "Members of the seeking organization cannot be credited with a share of the value "
            "it owes its co-creators."
        ]
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
        errors["weight"] = [
            f"A weight is 1 to {MAX_WEIGHT:,}, in basis points of the original split "
            "(10,000 = as much as the whole original team)."
        ]
    description = (description or "").strip()
    if not description or len(description) > 4000:
        errors["description"] = ["Say what the contribution was (1 to 4,000 characters)."]
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    contribution = Contribution(
        award_id=award.id,
        user_id=person.id,
        kind=ContributionKind.LATER,
        weight=weight,
        description=description,
        recorded_by_id=actor.id,
    )
    db.session.add(contribution)
    db.session.flush()
    notify(
        [person.id],
        kind="contribution",
        title=f"Confirm your contribution to “{proposal.title}”",
        body=description,
        link=f"/awards/{award.id}#contributions",
    )
    return contribution


@command
def confirm_contribution(actor: User, contribution_id: int) -> Contribution:
    """Each person confirms their own contribution record, and no one else's."""
    contribution = db.session.get(Contribution, contribution_id)
    if contribution is None or contribution.user_id != getattr(actor, "id", None):
        if contribution is not None and _may_read(actor, contribution):
            raise Forbidden("Only the person credited may confirm a contribution.")
        raise NotFound("No such contribution.")
    if contribution.confirmed_at is None:
        contribution.confirmed_at = utcnow()
    return contribution


def _may_read(actor: User, contribution: Contribution) -> bool:
    try:
        get_award(actor, contribution.award_id)
    except NotFound:
        return False
    return True


def weights(award: Award) -> dict[int, int]:
    """{user id: summed confirmed weight}: what splits the award's value shares (summed by
    the database: one row per co-creator, whatever the number of their contributions)."""
    return dict(
        db.session.execute(
            select(Contribution.user_id, func.sum(Contribution.weight))
            .where(Contribution.award_id == award.id, Contribution.confirmed_at.is_not(None))
            .group_by(Contribution.user_id)
        ).all()
    )
