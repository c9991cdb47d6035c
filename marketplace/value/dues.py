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

from sqlalchemy import (
    BigInteger,
    Numeric,
    Result,
    Select,
    Subquery,
    cast,
    func,
    select,
    text,
    true,
)

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.value.models import ReportStatus, ValueReport

#: Payments that count as paid for a report: settled, or on their way.
COUNTED = (PaymentStatus.PENDING, PaymentStatus.SETTLED)


def _paid_per_report() -> Subquery:
    """(value report id, amount paid or on its way), one row per report paid anything."""
    return (
        select(Payment.value_report_id, func.sum(Payment.amount).label("amount"))
        .where(
            Payment.value_report_id.is_not(None),
            Payment.kind == PaymentKind.VALUE_SHARE,
            Payment.status.in_(COUNTED),
        )
        .group_by(Payment.value_report_id)
        .subquery("paid")
    )


def _dues_query(currency: str) -> Select:
    """(report id, share amount, shares, due) of the posted reports in ``currency`` not
    paid in full. Only corrections walk a chain (recursively, to the first report); a report
    that corrects nothing is one row of a hash join with the payments summed per report."""
    paid = _paid_per_report()
    head = ValueReport.__table__.alias("head")
    earlier = ValueReport.__table__.alias("earlier")
    chain = (
        select(head.c.id.label("head_id"), head.c.corrects_id.label("member_id"))
        .where(
            head.c.status == ReportStatus.POSTED,
            head.c.currency == currency,
            head.c.corrects_id.is_not(None),
        )
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(chain.c.head_id, earlier.c.corrects_id)
        .join(earlier, earlier.c.id == chain.c.member_id)
        .where(earlier.c.corrects_id.is_not(None))
    )
    corrected = (
        select(chain.c.head_id, func.sum(paid.c.amount).label("amount"))
        .join(paid, paid.c.value_report_id == chain.c.member_id)
        .group_by(chain.c.head_id)
        .subquery("corrected")
    )
    due = (
        ValueReport.share_amount
        - func.coalesce(paid.c.amount, 0)
        - func.coalesce(corrected.c.amount, 0)
    )
    return (
        select(ValueReport.id, ValueReport.share_amount, ValueReport.shares, due.label("due"))
        .outerjoin(paid, paid.c.value_report_id == ValueReport.id)
        .outerjoin(corrected, corrected.c.head_id == ValueReport.id)
        .where(
            ValueReport.status == ReportStatus.POSTED,
            ValueReport.currency == currency,
            due > 0,
        )
    )


def _rows(currency: str) -> Result:
    """The dues query's rows. PostgreSQL misjudges the size of a recursive CTE by orders of
    magnitude and would spend seconds JIT-compiling a query that runs in a fraction of that:
    JIT is turned off for this transaction first."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))
    return db.session.execute(_dues_query(currency))


def dues(currency: str) -> dict[int, int]:
    """{report id: minor units still owed} of the posted reports in ``currency`` that are
    not paid in full, in one statement."""
    return {row.id: int(row.due) for row in _rows(currency)}


def unfunded_shares(currency: str) -> dict[int, int]:
    """{user id: minor units} of value shares the seekers have not paid yet. Money promised
    is money held: payouts wait for the seeker's payment (rounded up, so never early).
    One query whatever the number of reports.

    Each co-creator's unpaid part of a report is ceil(part * due / share), exactly. On
    PostgreSQL the splits are unnested and summed per co-creator in the query (numeric, so
    no product overflows), so a report shared among 100,000 people never crosses the wire
    as JSON; elsewhere (the embedded SQLite) the splits are added up here."""
    if db.session.get_bind().dialect.name == "postgresql":
        return _unfunded_in_postgresql(currency)
    held: dict[int, int] = {}
    for _, share_amount, shares, due in _rows(currency):
        for uid, part in shares.items():
            unpaid = -(-part * int(due) // share_amount)
            held[int(uid)] = held.get(int(uid), 0) + unpaid
    return held


def _unfunded_in_postgresql(currency: str) -> dict[int, int]:
    db.session.execute(text("SET LOCAL jit = off"))  # see _rows
    owed = _dues_query(currency).subquery("owed")
    split = func.json_each_text(owed.c.shares).table_valued("key", "value").alias("split")
    share = cast(owed.c.share_amount, Numeric)
    # ceil(a / b) for positive integers, exactly: (a + b - 1) div b
    unpaid = func.div(cast(split.c.value, Numeric) * owed.c.due + share - 1, share)
    user_id = cast(split.c.key, BigInteger)
    rows = db.session.execute(
        select(user_id, func.sum(unpaid)).select_from(owed).join(split, true()).group_by(user_id)
    )
    return {int(uid): int(amount) for uid, amount in rows}


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
