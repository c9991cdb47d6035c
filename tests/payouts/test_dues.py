"""Payout preparation computes what seekers still owe for all value reports in one grouped
statement (``value.dues``); it must say exactly what the per-report ``value_share_due``
says, through partial, pending and failed payments, corrections and withdrawals."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.value import reports
from marketplace.value.dues import dues, unfunded_shares, value_share_due
from marketplace.value.models import ReportStatus, ValueReport
from marketplace.value.share_payments import pay_value_share
from tests.challenges.conftest import user
from tests.payments.conftest import sandbox_app  # noqa: F401
from tests.proposals.conftest import need, people, submitted  # noqa: F401
from tests.sql_writes import statements_during
from tests.value.conftest import award, awarded  # noqa: F401
from tests.value.test_reports import period


def _paid(report: ValueReport, amount: int, status: PaymentStatus) -> None:
    """A value-share payment for ``report`` in any state (as a provider left it)."""
    db.session.add(
        Payment(
            kind=PaymentKind.VALUE_SHARE,
            challenge_id=award(report.award_id).challenge_id,
            amount=amount,
            currency=report.currency,
            provider="sandbox",
            status=status,
            value_report_id=report.id,
        )
    )
    db.session.commit()


def _old_unfunded(currency: str) -> dict[int, int]:
    """The per-report computation payout preparation used before (one query per report)."""
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


def test_grouped_dues_equal_the_per_report_computation(app, sandbox_app, people, awarded):  # noqa: F811
    with app.app_context(), app.test_request_context():
        manager = user(people.manager)
        file = reports.report_value
        paid_in_full = file(manager, awarded.award_id, period(awarded, 0, 30))
        pay_value_share(manager, paid_in_full.id)
        partly = file(manager, awarded.award_id, period(awarded, 31, 60, 1_000_003))
        _paid(partly, 12_345, PaymentStatus.SETTLED)
        _paid(partly, 1_000, PaymentStatus.PENDING)
        _paid(partly, 30_000, PaymentStatus.FAILED)  # a failed payment pays nothing
        unpaid = file(manager, awarded.award_id, period(awarded, 61, 90, 777_777))
        # paid, then corrected down (nothing due) and up again (the difference due)
        first = file(manager, awarded.award_id, period(awarded, 91, 120))
        pay_value_share(manager, first.id)
        lower = reports.correct_report(
            manager, first.id, "Returns", period(awarded, 91, 120, 800_000)
        )
        higher = reports.correct_report(
            manager, lower.id, "Late invoices", period(awarded, 91, 120, 1_300_000)
        )
        _paid(lower, 2_000, PaymentStatus.SETTLED)  # paid against a report since replaced
        withdrawn = file(manager, awarded.award_id, period(awarded, 121, 150))
        reports.reverse_report(manager, withdrawn.id, "Filed by mistake")
        posted = db.session.scalars(
            select(ValueReport.id).where(ValueReport.status == ReportStatus.POSTED)
        ).all()

        expected = {rid: value_share_due(rid) for rid in posted if value_share_due(rid) > 0}
        assert dues("USD") == expected
        assert set(expected) == {partly.id, unpaid.id, higher.id}
        assert expected[partly.id] == partly.share_amount - 13_345
        assert expected[higher.id] == 65_000 - 50_000 - 2_000
        assert unfunded_shares("USD") == _old_unfunded("USD")
        assert sum(unfunded_shares("USD").values()) >= sum(expected.values())
        assert dues("EUR") == {} and unfunded_shares("EUR") == {}


def test_the_dues_cost_one_statement_whatever_the_number_of_reports(
    app,
    sandbox_app,  # noqa: F811
    people,  # noqa: F811
    awarded,  # noqa: F811
):
    with app.app_context(), app.test_request_context():
        manager = user(people.manager)
        counted = []
        for days in range(0, 300, 30):
            reports.report_value(manager, awarded.award_id, period(awarded, days, days + 29))
            with statements_during(app) as statements:
                unfunded_shares("USD")
            counted.append(len(statements))
        assert len(set(counted)) == 1 and counted[0] <= 3  # BEGIN, SET LOCAL jit, the query
