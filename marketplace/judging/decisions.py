"""Decisions: every submitted proposal gets an award or a decline, always with written
feedback that its team reads.

An award posts one journal: escrow -> each co-creator's payable, split by the locked shares
(largest remainder), plus the platform fee -> revenue. The ledger's overdraft rule on escrow
makes awarding more than was funded impossible. Awards are idempotent: the journal's key is the
proposal's, and the need's row is locked while a decision is made, so a double click, a retried
request or a concurrent second award of the same prize writes nothing twice.

A decision, its notifications and (for a need being judged, after its last answer) the need's
close-out are one transaction: if closing out fails, the decision is not saved either.
"""

from __future__ import annotations

from sqlalchemy import func, select

import ledger
from ledger import InsufficientFunds, NewTransfer, as_utc, format_minor, utcnow
from marketplace.accounts.models import User
from marketplace.accounts.second_factor import require_second_factor
from marketplace.audit.log import record, refusals_recorded
from marketplace.challenges.access import EDITORS, require
from marketplace.challenges.models import Challenge, Status
from marketplace.challenges.terms import BASIS_POINTS
from marketplace.db import command
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.judging.closing import close_when_answered
from marketplace.judging.models import Award, Decision, IpStatus, Outcome
from marketplace.notifications.services import notify
from marketplace.proposals.access import get_proposal
from marketplace.proposals.models import Proposal, ProposalStatus
from marketplace.queue import enqueue_once
from marketplace.value.contributions import record_split

MAX_FEEDBACK = 10_000


def _feedback(text: str) -> str:
    text = (text or "").strip()
    if not text or len(text) > MAX_FEEDBACK:
        raise Invalid(
            "Every decision carries written feedback for the team.",
            {"feedback": [f"Write feedback for the team (1 to {MAX_FEEDBACK:,} characters)."]},
        )
    return text


def _lock(challenge: Challenge, proposal: Proposal) -> Decision | None:
    """Serialise decisions on one need (row lock on PostgreSQL; SQLite has one writer), then
    read the proposal afresh: a concurrent decision committed meanwhile is seen here."""
    db.session.execute(
        select(Challenge.id).where(Challenge.id == challenge.id).with_for_update()
    )
    db.session.refresh(proposal)
    db.session.refresh(challenge)
    return db.session.scalar(
        select(Decision)
        .where(Decision.proposal_id == proposal.id)
        .execution_options(populate_existing=True)
    )


def _check_decidable(challenge: Challenge, proposal: Proposal) -> None:
    if challenge.status not in (Status.OPEN, Status.JUDGING):
        raise Conflict(f"Decisions are made while the need is open or being judged, not "
                       f"{challenge.status}.")  # fmt: skip
    if proposal.status != ProposalStatus.SUBMITTED:
        raise Conflict(f"A {proposal.status} proposal takes no decision.")


def _record(actor: User, proposal: Proposal, outcome: Outcome, feedback: str) -> Decision:
    now = utcnow()
    decision = Decision(
        proposal_id=proposal.id,
        challenge_id=proposal.challenge_id,
        outcome=outcome,
        feedback=feedback,
        decided_by_id=actor.id,
        decided_at=now,
        response_seconds=max(0, int((now - as_utc(proposal.submitted_at)).total_seconds())),
    )
    db.session.add(decision)
    awarded = outcome == Outcome.AWARD
    proposal.status = ProposalStatus.AWARDED if awarded else ProposalStatus.DECLINED
    return decision


def _after(proposal: Proposal, title: str, body: str) -> None:
    notify(
        [m.user_id for m in proposal.joined],
        kind="decision",
        title=title,
        body=body,
        link=f"/proposals/{proposal.id}#decision",
    )
    close_when_answered(proposal.challenge)


@refusals_recorded("proposal.decline", object_arg="proposal_id")
@command
def decline_proposal(actor: User, proposal_id: int, feedback: str) -> Decision:
    proposal = get_proposal(actor, proposal_id)
    challenge = proposal.challenge
    require(actor, challenge, EDITORS, "decide on proposals")
    feedback = _feedback(feedback)
    existing = _lock(challenge, proposal)
    if existing is not None:
        if existing.outcome == Outcome.DECLINE:
            return existing  # a double click or a retry: nothing written
        raise Conflict("This proposal has a decision already.")
    _check_decidable(challenge, proposal)
    decision = _record(actor, proposal, Outcome.DECLINE, feedback)
    record("proposal.decline", obj=proposal, organization_id=challenge.organization_id, actor=actor)
    _after(proposal, f"Decision on “{proposal.title}”: not selected", feedback)
    return decision


def prize_left(challenge: Challenge, rank: int) -> int:
    """What is still unawarded of prize ``rank`` (1 = first prize) under the current terms."""
    prizes = challenge.current_terms.terms.prizes
    given = db.session.scalar(
        select(func.coalesce(func.sum(Award.amount), 0)).where(
            Award.challenge_id == challenge.id, Award.prize_rank == rank
        )
    )
    return prizes[rank - 1] - int(given)


def _award_amount(challenge: Challenge, rank: int, amount: int | None) -> int:
    terms = challenge.current_terms.terms
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= len(terms.prizes):
        raise Invalid(
            "Please correct the highlighted fields.",
            {"prize_rank": [f"Choose a prize from 1 to {len(terms.prizes)}."]},
        )
    prize, left = terms.prizes[rank - 1], prize_left(challenge, rank)
    if left <= 0:
        raise Conflict(f"Prize {rank} has been awarded already.")
    if amount is None:
        amount = left
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise Invalid("Please correct the highlighted fields.", {"amount": ["Enter an amount."]})
    if amount != prize and not terms.partial_awards:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"amount": ["The terms do not allow partial awards: a prize is awarded in full."]},
        )
    if amount > left:
        shown = format_minor(left, terms.currency, grouped=True)
        raise Invalid(
            "Please correct the highlighted fields.",
            {"amount": [f"Only {shown} {terms.currency} of prize {rank} is left to award."]},
        )
    return amount


def _ip_status(ip_terms: str) -> IpStatus:
    return IpStatus.RETAINED if ip_terms == "solver_keeps" else IpStatus.PENDING_TRANSFER


@refusals_recorded("award.grant", object_arg="proposal_id", object_type="proposal")
@command
def award_prize(
    actor: User, proposal_id: int, prize_rank: int, feedback: str, amount: int | None = None
) -> Award:
    """Award prize ``prize_rank`` (in full, or ``amount`` of it where partial awards are
    allowed) to a submitted proposal, posting the award journal."""
    proposal = get_proposal(actor, proposal_id)
    challenge = proposal.challenge
    require(actor, challenge, EDITORS, "award prizes")
    require_second_factor(actor, "award a prize")
    feedback = _feedback(feedback)
    existing = _lock(challenge, proposal)
    if existing is not None:
        award = existing.award
        if award and award.prize_rank == prize_rank and amount in (None, award.amount):
            return award  # a double click or a retry: the first award stands, nothing written
        raise Conflict("This proposal has a decision already.")
    _check_decidable(challenge, proposal)
    amount = _award_amount(challenge, prize_rank, amount)
    if not proposal.split_confirmed:
        raise Conflict("The team has not confirmed its current split; it must before an award.")
    terms = challenge.current_terms.terms
    shares = ledger.allocate(amount, {m.user_id: m.share_bp for m in proposal.members})
    fee = amount * terms.platform_fee_bp // BASIS_POINTS  # rounded down: escrow holds it
    escrow = chart.escrow(db.session, challenge.id, terms.currency)
    reference = f"proposal:{proposal.id}"
    batch = [
        NewTransfer(
            escrow.id, chart.payable(db.session, uid, terms.currency).id, part, "AWARD", reference
        )
        for uid, part in shares.items()
        if part > 0
    ]
    if fee > 0:
        batch.append(NewTransfer(escrow.id, chart.fees(db.session, terms.currency).id, fee,
                                 "FEE", reference))  # fmt: skip
    try:
        posted = ledger.post_journal(
            db.session,
            batch,
            key=f"award:proposal:{proposal.id}",
            recorded_by=f"user:{actor.id}",
            description=f"Prize {prize_rank} of challenge {challenge.id} to proposal "
            f"{proposal.id}",
        )
    except InsufficientFunds as error:
        held = format_minor(max(error.available, 0), terms.currency, grouped=True)
        needed = format_minor(amount + fee, terms.currency, grouped=True)
        raise Conflict(
            f"The escrow holds only {held} {terms.currency}: this award and its fee need "
            f"{needed} {terms.currency}."
        ) from error
    decision = _record(actor, proposal, Outcome.AWARD, feedback)
    ip_terms = (proposal.terms_version or challenge.current_terms).terms.ip_terms
    award = Award(
        decision=decision,
        proposal_id=proposal.id,
        challenge_id=challenge.id,
        prize_rank=prize_rank,
        amount=amount,
        fee=fee,
        currency=terms.currency,
        shares={str(uid): part for uid, part in shares.items()},
        journal_id=posted.journal_id,
        ip_terms=ip_terms,
        ip_status=_ip_status(ip_terms),
    )
    db.session.add(award)
    proposal.split_locked_at = utcnow()
    db.session.flush()
    record("award.grant", obj=award, organization_id=challenge.organization_id, actor=actor,
           details={"amount": amount, "fee": fee, "currency": terms.currency})  # fmt: skip
    record_split(award, proposal)
    enqueue_once("refresh_solver_facts", challenge.organization_id)  # the insight's solver facts
    shown = format_minor(amount, terms.currency, grouped=True)
    _after(proposal, f"“{proposal.title}” won prize {prize_rank}: {shown} {terms.currency}",
           feedback)  # fmt: skip
    return award


def decision_of(proposal: Proposal) -> Decision | None:
    return db.session.scalar(select(Decision).where(Decision.proposal_id == proposal.id))


def awards_of(actor: User, challenge_id: int) -> list[Award]:
    """The prizes a need awarded so far, by prize rank (for the seeker's owners, managers and
    reviewers)."""
    from marketplace.proposals.services import proposals_for_seeker

    ids = [p.id for p in proposals_for_seeker(actor, challenge_id)]
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Award).where(Award.proposal_id.in_(ids)).order_by(Award.prize_rank, Award.id)
        )
    )
