"""What seekers still owe for their value reports, and the payables it holds back from
payouts. Kept apart from reports.py (filing and correcting reports) because payout
preparation reads it for every report at once."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.value.models import ReportStatus, ValueReport


def unfunded_shares(currency: str) -> dict[int, int]:
    """{user id: minor units} of value shares the seekers have not paid yet. Money promised
    is money held: payouts wait for the seeker's payment (rounded up, so never early)."""
    held: dict[int, int] = {}
    for report in db.session.scalars(
        select(ValueReport).where(
            ValueReport.status == ReportStatus.POSTED, ValueReport.currency == currency
        )
    ):
        due = value_share_due(report.id)
        if due <= 0:
            continue
        for uid, part in report.shares.items():
            unpaid = -(-part * due // report.share_amount)
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
            Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.SETTLED)),
        )
    )
    return max(0, report.share_amount - int(paid))
