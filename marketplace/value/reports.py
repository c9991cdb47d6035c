"""Value reports: the seeker reports value an awarded solution realised in a period; the
terms' percentage of it is owed to the co-creators, split by their confirmed contribution
weights (largest remainder) and posted as one journal: the organization's receivable ->
each co-creator's payable (VALUE_SHARE).

Periods of one award never overlap and stay inside the value share's term; a report is never
edited: a correction reverses its journal and files a new report that points at it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

import ledger
from ledger import InsufficientFunds, NewTransfer, Transfer, format_minor, utcnow
from marketplace.accounts.models import User
from marketplace.accounts.second_factor import require_second_factor
from marketplace.audit.log import record, refusals_recorded
from marketplace.challenges.access import FUNDERS, get_visible, require, role_for
from marketplace.challenges.models import Challenge
from marketplace.challenges.terms import BASIS_POINTS
from marketplace.db import command
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.judging.models import Award
from marketplace.notifications.bulk import notify_many
from marketplace.queue import enqueue_once
from marketplace.value.contributions import get_award, weights
from marketplace.value.models import ReportStatus, ValueReport
from marketplace.value.periods import overlaps, term


def _invalid(field: str, message: str) -> Invalid:
    return Invalid("Please correct the highlighted fields.", {field: [message]})


def value_term(award: Award) -> tuple[int, tuple[date, date] | None]:
    """(share in basis points, (first day, last day)) of the award's value share terms."""
    terms = db.session.get(Challenge, award.challenge_id).current_terms.terms
    if not terms.value_share_bp or not terms.value_share_months:
        return 0, None
    return terms.value_share_bp, term(award.awarded_at.date(), terms.value_share_months)


def _lock_award(award: Award) -> None:
    """Reports of one award are filed one at a time (the overlap check needs it)."""
    db.session.execute(select(Award.id).where(Award.id == award.id).with_for_update())


def _check(award: Award, data: dict[str, Any]) -> tuple[int, int]:
    """Validate a report's input; returns (share in basis points, share amount)."""
    share_bp, window = value_term(award)
    if window is None:
        raise Conflict("The terms of this award share no value.")
    start, end, amount = data["period_start"], data["period_end"], data["value_amount"]
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise _invalid("value_amount", "Enter the realised value in minor units (a whole number).")
    if data.get("currency", award.currency) != award.currency:
        raise _invalid("currency", f"Report value in {award.currency}, the award's currency.")
    if end < start:
        raise _invalid("period_end", "The period ends before it starts.")
    if start < window[0] or end > window[1]:
        raise _invalid(
            "period_start",
            f"The value share runs from {window[0].isoformat()} to {window[1].isoformat()}; "
            "report periods inside it.",
        )
    if end > utcnow().date():
        raise _invalid("period_end", "Report value for a period that has ended.")
    for other in db.session.execute(
        select(ValueReport.id, ValueReport.period_start, ValueReport.period_end).where(
            ValueReport.award_id == award.id, ValueReport.status == ReportStatus.POSTED
        )
    ):  # columns, not reports: a report carries its co-creators' parts
        if overlaps((start, end), (other.period_start, other.period_end)):
            raise _invalid(
                "period_start",
                f"This period overlaps report {other.id} ({other.period_start.isoformat()} to "
                f"{other.period_end.isoformat()}); correct that report instead.",
            )
    if not (data.get("evidence") or "").strip():
        raise _invalid("evidence", "Say where the figure comes from (an evidence note).")
    share = amount * share_bp // BASIS_POINTS
    if share <= 0:
        raise _invalid("value_amount", "The share of this value is less than one minor unit.")
    return share_bp, share


def _file(actor: User, award: Award, data: dict[str, Any], corrects: int | None) -> ValueReport:
    share_bp, share = _check(award, data)
    split = weights(award)
    if not split:
        raise Conflict("No confirmed contributions: nobody to share the value with.")
    parts = ledger.allocate(share, split)
    challenge = db.session.get(Challenge, award.challenge_id)
    receivable = chart.receivable(db.session, challenge.organization_id, award.currency)
    reference = f"award:{award.id}"
    owed = {uid: part for uid, part in parts.items() if part > 0}
    payables = chart.payables(db.session, owed, award.currency)
    batch = [
        NewTransfer(receivable.id, payables[uid], part, "VALUE_SHARE", reference)
        for uid, part in owed.items()
    ]
    filed = db.session.scalar(
        select(func.count(ValueReport.id)).where(ValueReport.award_id == award.id)
    )
    posted = ledger.post_journal(
        db.session,
        batch,
        key=f"value:award:{award.id}:{filed + 1}",
        recorded_by=f"user:{actor.id}",
        description=f"Value share of award {award.id}, {data['period_start']} to "
        f"{data['period_end']}",
    )
    report = ValueReport(
        award_id=award.id,
        organization_id=challenge.organization_id,
        period_start=data["period_start"],
        period_end=data["period_end"],
        value_amount=data["value_amount"],
        currency=award.currency,
        share_bp=share_bp,
        share_amount=share,
        shares={str(uid): part for uid, part in parts.items()},
        weights={str(uid): weight for uid, weight in split.items()},
        evidence=data["evidence"].strip(),
        journal_id=posted.journal_id,
        corrects_id=corrects,
        reported_by_id=actor.id,
    )
    db.session.add(report)
    return report


def _tell(report: ValueReport, title: str) -> None:
    shown = format_minor(report.share_amount, report.currency, grouped=True)
    notify_many(
        [int(uid) for uid in report.shares],
        kind="value_share",
        title=title,
        body=f"{shown} {report.currency} shared for {report.period_start.isoformat()} to "
        f"{report.period_end.isoformat()}.",
        link="/me/earnings",
    )


def seeker_award(actor: User, award_id: int, doing: str) -> Award:
    """An award of the actor's organization, for its owners, managers and finance members."""
    award = db.session.get(Award, award_id)
    if award is None:
        raise NotFound("No such award.")
    challenge = get_visible(actor, award.challenge_id)
    if role_for(actor, challenge) is None:
        get_award(actor, award.id)  # people who may not even read the award: 404
    require(actor, challenge, FUNDERS, doing)
    return award


@refusals_recorded("value_report.create", object_arg="award_id", object_type="award")
@command
def report_value(actor: User, award_id: int, data: dict[str, Any]) -> ValueReport:
    """The seeker (owner, manager or finance member) reports realised value for a period."""
    award = seeker_award(actor, award_id, "report value")
    require_second_factor(actor, "report value")
    _lock_award(award)
    report = _file(actor, award, data, None)
    db.session.flush()
    record("value_report.create", obj=report, actor=actor, details={"award_id": award.id})
    _tell(report, "A value share was reported for your solution")
    enqueue_once("refresh_solver_facts", report.organization_id)  # the insight's solver facts
    return report


def _reverse(actor: User, report: ValueReport, reason: str) -> None:
    if report.status != ReportStatus.POSTED:
        raise Conflict("This report was already reversed.")
    reason = (reason or "").strip()
    if not reason or len(reason) > 4000:
        raise _invalid("reason", "Say why the report is corrected (1 to 4,000 characters).")
    originals = db.session.execute(
        select(Transfer.id, Transfer.debit_account_id, Transfer.credit_account_id, Transfer.amount)
        .where(Transfer.journal_id == report.journal_id)
        .order_by(Transfer.id)
    ).all()
    # One journal of REVERSALs, one per transfer (keyed as reverse_transfer keys them), instead
    # of a journal each: a report of 100,000 co-creators is withdrawn in one posting.
    batch = [
        NewTransfer(
            t.credit_account_id,
            t.debit_account_id,
            t.amount,
            "REVERSAL",
            f"transfer:{t.id}",
            key=f"reversal:transfer:{t.id}",
            reverses=t.id,
        )
        for t in originals
    ]
    try:
        ledger.post_journal(
            db.session,
            batch,
            key=f"reversal:value_report:{report.id}",
            recorded_by=f"user:{actor.id}",
            description=f"Value report {report.id} corrected: {reason}"[:500],
        )
    except InsufficientFunds as error:
        raise Conflict(
            "Part of this share was already paid out to a co-creator, so it cannot be taken "
            "back from their balance; report the difference as a new period instead."
        ) from error
    report.status = ReportStatus.REVERSED
    report.reversed_at = utcnow()
    report.reversed_by_id = actor.id
    report.reversal_reason = reason


def _report_for(actor: User, report_id: int) -> tuple[ValueReport, Award]:
    report = db.session.get(ValueReport, report_id)
    if report is None:
        raise NotFound("No such value report.")
    award = seeker_award(actor, report.award_id, "correct value reports")
    require_second_factor(actor, "correct a value report")
    return report, award


@command
def reverse_report(actor: User, report_id: int, reason: str) -> ValueReport:
    """Withdraw a report: its journal is reversed (REVERSAL per transfer), nothing edited."""
    report, award = _report_for(actor, report_id)
    _lock_award(award)
    _reverse(actor, report, reason)
    record("value_report.reverse", obj=report, actor=actor, details={"reason": reason})
    _tell(report, "A value share report was withdrawn")
    enqueue_once("refresh_solver_facts", report.organization_id)  # the insight's solver facts
    return report


@command
def correct_report(actor: User, report_id: int, reason: str, data: dict[str, Any]) -> ValueReport:
    """Reverse a report and file its replacement, in one transaction: both or neither."""
    report, award = _report_for(actor, report_id)
    _lock_award(award)
    _reverse(actor, report, reason)
    db.session.flush()
    replacement = _file(actor, award, data, report.id)
    db.session.flush()
    record("value_report.correct", obj=replacement, actor=actor, details={"replaces": report.id})
    _tell(replacement, "A value share report was corrected")
    enqueue_once("refresh_solver_facts", replacement.organization_id)  # the insight's solver facts
    return replacement


def reports_of(actor: User, award_id: int) -> list[ValueReport]:
    """An award's reports, for its team and the seeker's readers and funders."""
    try:
        award = get_award(actor, award_id)
    except NotFound:
        award = seeker_award(actor, award_id, "read value reports")
    return list(
        db.session.scalars(
            select(ValueReport).where(ValueReport.award_id == award.id).order_by(ValueReport.id)
        )
    )
