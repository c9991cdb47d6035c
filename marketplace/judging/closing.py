"""Closing a need out. Every input gets an answer: a need closes only when every submitted
proposal has a decision with feedback. Then its unspent escrow is reserved for the seeker (a
pending REFUND, sent to the provider after the commit) and everyone who took part hears the
outcome. A need being judged closes by itself when its last proposal is decided, in the
transaction of that decision."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from ledger import LedgerError, as_utc, utcnow
from marketplace.accounts.models import User
from marketplace.audit.log import record
from marketplace.challenges.access import EDITORS, get_visible, require
from marketplace.challenges.models import Challenge, Status
from marketplace.db import command
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.judging.models import Award, Decision
from marketplace.notifications.services import notify
from marketplace.proposals.access import SENT
from marketplace.proposals.models import MemberStatus, Proposal, ProposalStatus, TeamMember

log = logging.getLogger(__name__)


def undecided_count(challenge: Challenge) -> int:
    return db.session.scalar(
        select(func.count(Proposal.id)).where(
            Proposal.challenge_id == challenge.id, Proposal.status == ProposalStatus.SUBMITTED
        )
    )


@command
def close_challenge(actor: User, challenge_id: int) -> Challenge:
    """The seeker closes a need whose deadline has passed and whose proposals all have
    answers."""
    challenge = get_visible(actor, challenge_id)
    require(actor, challenge, EDITORS, "close this need")
    if challenge.status == Status.OPEN and as_utc(challenge.deadline) > utcnow():
        raise Conflict("The need is open until its deadline; cancel it instead to stop early.")
    if challenge.status not in (Status.OPEN, Status.JUDGING):
        raise Conflict(f"A {challenge.status} need cannot be closed.")
    waiting = undecided_count(challenge)
    if waiting:
        raise Conflict(
            f"{waiting} submitted proposal{'s' if waiting != 1 else ''} still wait for a "
            "decision with feedback: every input gets an answer before the need closes."
        )
    _close_out(actor, challenge)
    return challenge


def close_when_answered(challenge: Challenge) -> bool:
    """After a decision, in its transaction: close a need being judged once nothing waits for
    an answer. If the close-out fails (the ledger refuses its refund reservation), the
    decision fails with it: nothing is saved, and the manager can decide again later. The
    provider is asked for the refund only after the commit: its refusal leaves the decision
    and the close-out standing and goes to the platform admins."""
    if challenge.status != Status.JUDGING or undecided_count(challenge):
        return False
    try:
        _close_out(None, challenge)
    except (Conflict, LedgerError) as error:
        log.warning("challenge %s not closed after its last decision: %s", challenge.id, error)
        reason = error.message if isinstance(error, Conflict) else f"{error}."
        raise Conflict(
            "This was the need's last answer, so the need closes with it, and closing failed: "
            f"{reason} Nothing was saved; please try again later."
        ) from error
    return True


def _close_out(actor: User | None, challenge: Challenge) -> None:
    from marketplace.challenges.services import participants
    from marketplace.payments.services import refund_escrow

    challenge.status = Status.CLOSED
    challenge.closed_at = utcnow()
    db.session.flush()
    record("need.close", obj=challenge, actor=actor)
    refund = refund_escrow(actor, challenge)
    awards = db.session.scalar(
        select(func.count(Award.id)).where(Award.challenge_id == challenge.id)
    )
    answered = db.session.scalar(
        select(func.count(Decision.id)).where(Decision.challenge_id == challenge.id)
    )
    team = db.session.scalars(
        select(TeamMember.user_id)
        .join(Proposal, Proposal.id == TeamMember.proposal_id)
        .where(Proposal.challenge_id == challenge.id, TeamMember.status == MemberStatus.JOINED)
    )
    notify(
        [*participants(challenge), *team],
        kind="challenge_closed",
        title=f"“{challenge.title}” is closed: {answered} proposals answered, {awards} awarded",
        body="Thank you for taking part. Your proposal's page shows its decision and feedback.",
        link=f"/challenges/{challenge.id}",
    )
    if refund is not None:
        staff = [m.user_id for m in challenge.organization.memberships]
        notify(
            staff,
            kind="escrow_refunded",
            title=f"Unspent escrow of “{challenge.title}” is being returned",
            link=f"/challenges/{challenge.id}",
        )


@dataclass(frozen=True)
class Responses:
    """How a need answered its inputs: the response rate and time to decision."""

    received: int
    answered: int
    median_seconds: int | None

    @property
    def rate_percent(self) -> int | None:
        return None if not self.received else self.answered * 100 // self.received


def responses(challenge: Challenge) -> Responses:
    received = db.session.scalar(
        select(func.count(Proposal.id)).where(
            Proposal.challenge_id == challenge.id, Proposal.status.in_(SENT)
        )
    )
    times = sorted(
        db.session.scalars(
            select(Decision.response_seconds).where(Decision.challenge_id == challenge.id)
        )
    )
    median = times[len(times) // 2] if times else None
    return Responses(received, len(times), median)

