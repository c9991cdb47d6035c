"""The solver's home: my proposals and their states, my teams and what waits for me
(invitations, split confirmations), decisions with feedback, awards and what I am owed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ledger import Account
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.judging.models import Award, Decision
from marketplace.proposals.access import proposals_of
from marketplace.proposals.models import MemberStatus, Proposal, TeamMember


@dataclass(frozen=True)
class MyAward:
    award: Award
    proposal: Proposal
    my_part: int


@dataclass
class SolverHome:
    proposals: list[Proposal] = field(default_factory=list)
    invitations: list[TeamMember] = field(default_factory=list)
    to_confirm: list[Proposal] = field(default_factory=list)
    decisions: dict[int, Decision] = field(default_factory=dict)
    awards: list[MyAward] = field(default_factory=list)
    #: currency -> minor units owed to me now (my payable accounts' balances)
    owed: dict[str, int] = field(default_factory=dict)


def owed_to(user: User) -> dict[str, int]:
    accounts = db.session.scalars(
        select(Account).where(Account.code.like(f"liability:payable:solver:{user.id}:%"))
    )
    return {a.currency: a.credits_posted - a.debits_posted for a in accounts}


def solver_home(user: User) -> SolverHome:
    home = SolverHome(proposals=proposals_of(user))
    home.invitations = list(
        db.session.scalars(
            select(TeamMember).where(
                TeamMember.email == user.email, TeamMember.status == MemberStatus.INVITED
            )
        )
    )
    ids = [p.id for p in home.proposals]
    home.to_confirm = [
        p
        for p in home.proposals
        if p.split_locked_at is None
        and p.status in ("draft", "submitted")
        and any(m.user_id == user.id and not m.confirmed for m in p.members)
    ]
    if ids:
        home.decisions = {
            d.proposal_id: d
            for d in db.session.scalars(select(Decision).where(Decision.proposal_id.in_(ids)))
        }
    by_id = {p.id: p for p in home.proposals}
    for award in db.session.scalars(
        select(Award).where(Award.proposal_id.in_(ids)).order_by(Award.id.desc())
    ) if ids else []:
        part = int(award.shares.get(str(user.id), 0))
        home.awards.append(MyAward(award, by_id[award.proposal_id], part))
    home.owed = owed_to(user)
    return home
