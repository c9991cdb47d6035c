"""The solver's home: my proposals and their states, my teams and what waits for me
(invitations, split confirmations), decisions with feedback, awards and what I am owed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from ledger import Account
from marketplace.accounts.models import User
from marketplace.challenges.access import visible_to
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.judging.models import Award, Decision
from marketplace.pagination import PER_PAGE, keyset_page
from marketplace.proposals.models import MemberStatus, Proposal, ProposalStatus, TeamMember


@dataclass(frozen=True)
class MyInvitation:
    """An open invitation to a team. Its need's title only if I may see that need: an
    invitation to a proposal for an internal need tells an outsider nothing about the need."""

    member: TeamMember
    need_title: str | None


@dataclass(frozen=True)
class MyAward:
    award: Award
    proposal: Proposal
    my_part: int


#: The longest the side lists (invitations, splits to confirm, awards) get on one page.
SIDE_LIST_LIMIT = 50


@dataclass
class SolverHome:
    #: One page of my proposals, newest first (``next_cursor`` for the next).
    proposals: list[Proposal] = field(default_factory=list)
    invitations: list[MyInvitation] = field(default_factory=list)
    to_confirm: list[Proposal] = field(default_factory=list)
    #: proposal id -> its need's title, None where I may no longer see the need (a team member
    #: outside an internal need's domains): my proposal stays mine, its need's title does not.
    need_titles: dict[int, str | None] = field(default_factory=dict)
    #: The decisions on the proposals of this page.
    decisions: dict[int, Decision] = field(default_factory=dict)
    awards: list[MyAward] = field(default_factory=list)
    #: currency -> minor units owed to me now (my payable accounts' balances)
    owed: dict[str, int] = field(default_factory=dict)
    per_page: int = PER_PAGE
    next_cursor: str | None = None
    has_previous: bool = False


def owed_to(user: User) -> dict[str, int]:
    accounts = db.session.scalars(
        select(Account).where(Account.code.like(f"liability:payable:solver:{user.id}:%"))
    )
    return {a.currency: a.credits_posted - a.debits_posted for a in accounts}


def _mine(user: User) -> Select:
    """Proposals whose team ``user`` joined."""
    return (
        select(Proposal)
        .join(TeamMember, TeamMember.proposal_id == Proposal.id)
        .where(TeamMember.user_id == user.id, TeamMember.status == MemberStatus.JOINED)
    )


def solver_home(user: User, *, cursor: str | None = None, per_page: int = PER_PAGE) -> SolverHome:
    """My home, one page of proposals at a time: a fixed number of statements (the page with
    its needs and teams, decisions, invitations, splits to confirm, awards, what I am owed)."""
    page = keyset_page(
        _mine(user).options(joinedload(Proposal.challenge), selectinload(Proposal.members)),
        [Proposal.id],
        cursor=cursor,
        per_page=per_page,
        scalars=True,
    )
    home = SolverHome(
        proposals=page.items,
        per_page=page.per_page,
        next_cursor=page.next_cursor,
        has_previous=page.has_previous,
    )
    open_needs = set(
        db.session.scalars(
            select(Challenge.id).where(
                Challenge.id.in_({p.challenge_id for p in page.items}), visible_to(user)
            )
        )
    )
    home.need_titles = {
        p.id: p.challenge.title if p.challenge_id in open_needs else None for p in page.items
    }
    need_open = (
        select(Challenge.id)
        .where(Challenge.id == Proposal.challenge_id, visible_to(user))
        .exists()
    )
    home.invitations = [
        MyInvitation(member, member.proposal.challenge.title if open_to_me else None)
        for member, open_to_me in db.session.execute(
            select(TeamMember, need_open)
            .join(Proposal, Proposal.id == TeamMember.proposal_id)
            .where(TeamMember.email == user.email, TeamMember.status == MemberStatus.INVITED)
            .options(
                joinedload(TeamMember.proposal).joinedload(Proposal.lead),
                joinedload(TeamMember.proposal).joinedload(Proposal.challenge),
            )
            .order_by(TeamMember.id.desc())
            .limit(SIDE_LIST_LIMIT)
        )
    ]
    home.to_confirm = list(
        db.session.scalars(
            select(Proposal)
            .join(TeamMember, TeamMember.proposal_id == Proposal.id)
            .where(
                TeamMember.user_id == user.id,
                TeamMember.confirmed_version != Proposal.split_version,
                Proposal.split_locked_at.is_(None),
                Proposal.status.in_((ProposalStatus.DRAFT, ProposalStatus.SUBMITTED)),
            )
            .order_by(Proposal.id.desc())
            .limit(SIDE_LIST_LIMIT)
        )
    )
    ids = [p.id for p in home.proposals]
    if ids:
        home.decisions = {
            d.proposal_id: d
            for d in db.session.scalars(
                select(Decision)
                .where(Decision.proposal_id.in_(ids))
                .options(selectinload(Decision.award))
            )
        }
    mine = _mine(user).with_only_columns(Proposal.id).scalar_subquery()
    awarded = db.session.execute(
        select(Award, Proposal)
        .join(Proposal, Proposal.id == Award.proposal_id)
        .where(Award.proposal_id.in_(mine))
        .order_by(Award.id.desc())
        .limit(SIDE_LIST_LIMIT)
    )
    for award, proposal in awarded:
        part = int(award.shares.get(str(user.id), 0))
        home.awards.append(MyAward(award, proposal, part))
    home.owed = owed_to(user)
    return home
