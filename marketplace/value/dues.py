"""What seekers still owe for their value reports, and the payables it holds back from
payouts. Kept apart from reports.py (filing and correcting reports) because payout
preparation reads it for every report at once.

A report's due is its share less what was paid (or is on its way) for it and for the reports
it corrects, so a correction never bills twice. ``value_share_due`` computes it for one
report; ``dues`` for all posted reports of a currency in one grouped statement (a recursive
walk down the correction chains joined to the payments summed per report), so preparing a
payout batch costs the same few statements whatever the number of reports.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.value.models import ReportStatus, ValueReport

#: Payments that count as paid for a report: settled, or on their way.
COUNTED = (PaymentStatus.PENDING, PaymentStatus.SETTLED)


def _dues_query(currency: str) -> Select:
    """(report id, share amount, shares, due) of the posted reports in ``currency`` not
    paid in full."""
    head = ValueReport.__table__.alias("head")
    earlier = ValueReport.__table__.alias("earlier")
    chain = (
        select(head.c.id.label("head_id"), head.c.id.label("member_id"))
        .where(head.c.status == ReportStatus.POSTED, head.c.currency == currency)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(chain.c.head_id, earlier.c.corrects_id)
        .join(earlier, earlier.c.id == chain.c.member_id)
        .where(earlier.c.corrects_id.is_not(None))
    )
    paid = (
        select(Payment.value_report_id, func.sum(Payment.amount).label("amount"))
        .where(
            Payment.value_report_id.is_not(None),
            Payment.kind == PaymentKind.VALUE_SHARE,
            Payment.status.in_(COUNTED),
        )
        .group_by(Payment.value_report_id)
        .subquery("paid")
    )
    per_head = (
        select(chain.c.head_id, func.coalesce(func.sum(paid.c.amount), 0).label("paid"))
        .select_from(chain)
        .outerjoin(paid, paid.c.value_report_id == chain.c.member_id)
        .group_by(chain.c.head_id)
        .subquery("per_head")
    )
    due = ValueReport.share_amount - per_head.c.paid
    return (
        select(ValueReport.id, ValueReport.share_amount, ValueReport.shares, due.label("due"))
        .join(per_head, per_head.c.head_id == ValueReport.id)
        .where(due > 0)
    )


def dues(currency: str) -> dict[int, int]:
    """{report id: minor units still owed} of the posted reports in ``currency`` that are
    not paid in full, in one statement."""
    rows = db.session.execute(_dues_query(currency))
    return {row.id: int(row.due) for row in rows}


def unfunded_shares(currency: str) -> dict[int, int]:
    """{user id: minor units} of value shares the seekers have not paid yet. Money promised
    is money held: payouts wait for the seeker's payment (rounded up, so never early).
    One statement whatever the number of reports."""
    held: dict[int, int] = {}
    for _, share_amount, shares, due in db.session.execute(_dues_query(currency)):
        for uid, part in shares.items():
            unpaid = -(-part * int(due) // share_amount)
            held[int(uid)] = held.get(int(uid), 0) + unpaid
    return held


def value_share_due(report_id: int) -> int:
    """What the seeker still owes for one value report: its share less what was paid (or is
    on its way) for it and for the reports it corrects, so a correction never bills twice."""
    report = db.session.get(ValueReport, report_id)
    if report is None or report.status != ReportStatus.POSTED:
        return 0
    chain, earlier = [report.id], report.corrects_id
    while earlier is not None:
        chain.append(earlier)
        earlier = db.session.scalar(
            select(ValueReport.corrects_id).where(ValueReport.id == earlier)
        )
    paid = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.value_report_id.in_(chain),
            Payment.kind == PaymentKind.VALUE_SHARE,
            Payment.status.in_(COUNTED),
        )
    )
    return max(0, report.share_amount - int(paid))
