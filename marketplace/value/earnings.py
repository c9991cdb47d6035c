"""What a solver earned and why, and what one award's page shows its viewer.

``earnings(user)``: per currency, what the platform owes the solver (the payable account's
``available``), what is reserved for a payout on its way (``debits_pending``) and what was paid
(their paid payout lines), with the lines that explain it, newest first:

- an award part: their share of a prize, from the proposal's locked split;
- a value share part: their part of a value report (a reversed report stays listed as
  reversed, and its reversal is a negative line of its own);
- a payout: money sent to them (negative); a payout that failed, was voided with its batch or
  was reversed by the provider is followed by a "returned" line: the money is owed again.

So the lines of a currency always add up to what is owed (``available``).

``award_overview(actor, award_id)`` reads one award for its page and the API: contributions,
value reports, the value share term, and what the actor may do there. Reading only: every
change goes through the services in ``contributions``, ``reports`` and ``payments``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import BigInteger, ScalarSelect, cast, func, select
from sqlalchemy.orm import defer

from ledger import Account, as_utc, format_minor
from marketplace.accounts.models import OrgRole, User
from marketplace.challenges.access import EDITORS, FUNDERS, role_for
from marketplace.challenges.models import Challenge
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.judging.models import Award
from marketplace.payouts.models import LineStatus, PayoutBatch, PayoutLine
from marketplace.proposals.models import Proposal
from marketplace.value.contributions import get_award
from marketplace.value.dues import value_share_due
from marketplace.value.models import Contribution, ContributionKind, ReportStatus, ValueReport
from marketplace.value.reports import value_term

#: Line kinds, in the order a CSV reader meets them.
AWARD, VALUE_SHARE, VALUE_SHARE_REVERSAL = "award", "value_share", "value_share_reversal"
PAYOUT, PAYOUT_RETURNED = "payout", "payout_returned"
#: Payout lines whose money came back to the solver's balance.
RETURNED = {
    LineStatus.FAILED: "failed",
    LineStatus.VOIDED: "was voided with its batch",
    LineStatus.REVERSED: "was reversed by the payment provider",
}
CSV_HEADER = ["date", "kind", "description", "status", "currency", "amount_minor", "amount"]


@dataclass(frozen=True)
class Line:
    """One line of a solver's earnings. ``amount`` is signed: what it did to their balance."""

    at: datetime
    kind: str
    currency: str
    amount: int
    description: str
    status: str = "posted"
    award_id: int | None = None
    challenge_id: int | None = None
    challenge_title: str | None = None
    proposal_id: int | None = None
    proposal_title: str | None = None
    prize_rank: int | None = None
    share_bp: int | None = None
    terms_version: int | None = None
    report_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    weight: int | None = None
    total_weight: int | None = None
    batch_id: int | None = None
    order: int = 0  # ties on the same instant: the later event first


@dataclass
class CurrencyEarnings:
    currency: str
    owed: int = 0
    pending: int = 0
    paid: int = 0
    lines: list[Line] = field(default_factory=list)


def _payable_accounts(user: User) -> dict[str, Account]:
    """The user's payable accounts by currency (read only: none is opened here)."""
    prefix = f"liability:payable:solver:{user.id}:"
    return {
        account.currency: account
        for account in db.session.scalars(select(Account).where(Account.code.startswith(prefix)))
    }


def _award_lines(user: User) -> list[Line]:
    rows = db.session.execute(
        select(Award, Contribution.weight, Proposal, Challenge)
        .join(Contribution, Contribution.award_id == Award.id)
        .join(Proposal, Proposal.id == Award.proposal_id)
        .join(Challenge, Challenge.id == Award.challenge_id)
        .where(Contribution.user_id == user.id, Contribution.kind == ContributionKind.SPLIT)
        .order_by(Award.id)
    ).all()
    lines = []
    for award, weight, proposal, challenge in rows:
        amount = int(award.shares.get(str(user.id), 0))
        if amount <= 0:
            continue
        version = proposal.terms_version.version if proposal.terms_version else None
        lines.append(
            Line(
                at=as_utc(award.awarded_at),
                kind=AWARD,
                currency=award.currency,
                amount=amount,
                description=f"Prize {award.prize_rank} for “{proposal.title}” on "
                f"“{challenge.title}”: your {_percent(weight)} of the split"
                + (f" (terms version {version})" if version else ""),
                award_id=award.id,
                challenge_id=challenge.id,
                challenge_title=challenge.title,
                proposal_id=proposal.id,
                proposal_title=proposal.title,
                prize_rank=award.prize_rank,
                share_bp=weight,
                terms_version=version,
                order=award.id,
            )
        )
    return lines


def _total_weight() -> ScalarSelect:
    """The sum of a report's weights, added up by the database (correlated to the report)."""
    if db.session.get_bind().dialect.name == "postgresql":
        each = func.json_each_text(ValueReport.weights).table_valued("key", "value")
        return select(func.sum(cast(each.c.value, BigInteger))).scalar_subquery()
    each = func.json_each(ValueReport.weights).table_valued("value")
    return select(func.sum(each.c.value)).scalar_subquery()


def _value_lines(user: User) -> list[Line]:
    """The user's value shares. A report's parts and weights are read for this user alone
    (and the weights summed) in SQL: a report may hold 100,000 co-creators' parts."""
    award_ids = select(Contribution.award_id).where(Contribution.user_id == user.id)
    key = str(user.id)
    rows = db.session.execute(
        select(
            ValueReport,
            Proposal,
            Challenge,
            ValueReport.shares[key].as_string(),
            ValueReport.weights[key].as_string(),
            _total_weight(),
        )
        .options(defer(ValueReport.shares), defer(ValueReport.weights))
        .join(Award, Award.id == ValueReport.award_id)
        .join(Proposal, Proposal.id == Award.proposal_id)
        .join(Challenge, Challenge.id == Award.challenge_id)
        .where(ValueReport.award_id.in_(award_ids))
        .order_by(ValueReport.id)
    ).all()
    lines = []
    for report, proposal, challenge, part, share_weight, total_weight in rows:
        amount = int(part or 0)
        if amount <= 0:
            continue
        weight, total = int(share_weight or 0), int(total_weight or 0)
        period = f"{report.period_start.isoformat()} to {report.period_end.isoformat()}"
        common = {
            "currency": report.currency,
            "award_id": report.award_id,
            "challenge_id": challenge.id,
            "challenge_title": challenge.title,
            "proposal_id": proposal.id,
            "proposal_title": proposal.title,
            "report_id": report.id,
            "period_start": report.period_start,
            "period_end": report.period_end,
            "weight": weight,
            "total_weight": total,
        }
        lines.append(
            Line(
                at=as_utc(report.reported_at),
                kind=VALUE_SHARE,
                amount=amount,
                description=f"Value share of “{proposal.title}”, report {report.id} for "
                f"{period}: weight {weight:,} of {total:,}",
                status=report.status,
                order=2 * report.id,
                **common,
            )
        )
        if report.status == ReportStatus.REVERSED and report.reversed_at is not None:
            lines.append(
                Line(
                    at=as_utc(report.reversed_at),
                    kind=VALUE_SHARE_REVERSAL,
                    amount=-amount,
                    description=f"Report {report.id} for {period} withdrawn: "
                    f"{report.reversal_reason}",
                    order=2 * report.id + 1,
                    **common,
                )
            )
    return lines


def _payout_lines(user: User) -> list[Line]:
    rows = db.session.execute(
        select(PayoutLine, PayoutBatch)
        .join(PayoutBatch, PayoutBatch.id == PayoutLine.batch_id)
        .where(PayoutLine.user_id == user.id)
        .order_by(PayoutLine.id)
    ).all()
    lines = []
    for line, batch in rows:
        lines.append(
            Line(
                at=as_utc(line.sent_at or batch.prepared_at),
                kind=PAYOUT,
                currency=line.currency,
                amount=-line.amount,
                description=f"Payout in batch {batch.id} ({line.status})",
                status=line.status,
                batch_id=batch.id,
                order=2 * line.id,
            )
        )
        if line.status in RETURNED:
            lines.append(
                Line(
                    at=as_utc(line.resolved_at or line.sent_at or batch.prepared_at),
                    kind=PAYOUT_RETURNED,
                    currency=line.currency,
                    amount=line.amount,
                    description=f"The payout in batch {batch.id} {RETURNED[line.status]}: "
                    "owed to you again",
                    batch_id=batch.id,
                    order=2 * line.id + 1,
                )
            )
    return lines


def _percent(basis_points: int) -> str:
    whole, rest = divmod(basis_points, 100)
    return f"{whole}.{rest:02d} %" if rest else f"{whole} %"


def _newest_first(lines: list[Line]) -> list[Line]:
    kinds = [AWARD, VALUE_SHARE, VALUE_SHARE_REVERSAL, PAYOUT, PAYOUT_RETURNED]
    return sorted(lines, key=lambda ln: (ln.at, kinds.index(ln.kind), ln.order), reverse=True)


def earnings(user: User) -> list[CurrencyEarnings]:
    """The user's earnings per currency (alphabetical), each with its lines, newest first."""
    by_currency: dict[str, CurrencyEarnings] = {}
    for currency, account in _payable_accounts(user).items():
        by_currency[currency] = CurrencyEarnings(
            currency, owed=account.available, pending=account.debits_pending
        )
    for line in _award_lines(user) + _value_lines(user) + _payout_lines(user):
        found = by_currency.setdefault(line.currency, CurrencyEarnings(line.currency))
        found.lines.append(line)
        if line.kind == PAYOUT and line.status == LineStatus.PAID:
            found.paid += -line.amount
    for found in by_currency.values():
        found.lines = _newest_first(found.lines)
    return [by_currency[c] for c in sorted(by_currency)]


def all_lines(user: User) -> list[Line]:
    """Every currency's lines together, newest first."""
    return _newest_first([line for found in earnings(user) for line in found.lines])


def earnings_csv(user: User) -> str:
    """The lines as CSV: a header, then one row per line, newest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in all_lines(user):
        writer.writerow(
            [
                line.at.date().isoformat(),
                line.kind,
                line.description,
                line.status,
                line.currency,
                line.amount,
                format_minor(line.amount, line.currency),
            ]
        )
    return out.getvalue()


def awaiting_confirmation(user: User) -> list[Contribution]:
    """Contributions recorded for the user that they have not confirmed yet."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            select(Contribution)
            .where(Contribution.user_id == user.id, Contribution.confirmed_at.is_(None))
            .order_by(Contribution.id)
        )
    )


# An award's page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    report: ValueReport
    due: int
    corrected_by: int | None  # the report that replaced this one


@dataclass(frozen=True)
class AwardOverview:
    award: Award
    proposal: Proposal
    challenge: Challenge
    role: OrgRole | None
    on_team: bool
    reads_proposal: bool
    contributions: list[Contribution]
    reports: list[ReportRow]
    names: dict[int, str]
    share_bp: int
    term: tuple[date, date] | None
    may_record: bool
    may_report: bool

    @property
    def confirmed_weight(self) -> int:
        return sum(c.weight for c in self.contributions if c.confirmed_at is not None)

    @property
    def total_due(self) -> int:
        return sum(row.due for row in self.reports)


def award_overview(actor: User, award_id: int) -> AwardOverview:
    """One award as ``actor`` may see it: its team, the seeker's owners, managers, reviewers
    and finance members, and anyone credited with a contribution to it. Others: 404."""
    award = db.session.get(Award, award_id) if getattr(actor, "is_authenticated", False) else None
    if award is None:
        raise NotFound("No such award.")
    challenge = db.session.get(Challenge, award.challenge_id)
    role = role_for(actor, challenge)
    try:
        get_award(actor, award.id)
        reads_proposal = True
    except NotFound:
        reads_proposal = False
    contributions = list(
        db.session.scalars(
            select(Contribution).where(Contribution.award_id == award.id).order_by(Contribution.id)
        )
    )
    credited = any(c.user_id == actor.id for c in contributions)
    if not (reads_proposal or role in FUNDERS or credited):
        raise NotFound("No such award.")
    reports = list(
        db.session.scalars(
            select(ValueReport).where(ValueReport.award_id == award.id).order_by(ValueReport.id)
        )
    )
    replaced = {r.corrects_id: r.id for r in reports if r.corrects_id is not None}
    user_ids = {c.user_id for c in contributions} | {int(u) for r in reports for u in r.shares}
    names = {
        uid: name
        for uid, name in db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    }
    share_bp, window = value_term(award)
    return AwardOverview(
        award=award,
        proposal=db.session.get(Proposal, award.proposal_id),
        challenge=challenge,
        role=role,
        on_team=any(
            c.user_id == actor.id and c.kind == ContributionKind.SPLIT for c in contributions
        ),
        reads_proposal=reads_proposal,
        contributions=contributions,
        reports=[ReportRow(r, value_share_due(r.id), replaced.get(r.id)) for r in reports],
        names=names,
        share_bp=share_bp,
        term=window,
        may_record=role in EDITORS,
        may_report=role in FUNDERS and window is not None,
    )
