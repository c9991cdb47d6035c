"""Value sharing: contributions, value reports to the cent, periods, corrections, payment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

import ledger
from ledger import Transfer
from marketplace.accounts.models import Organization
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.payments.models import Payment, PaymentStatus
from marketplace.value import contributions, reports
from marketplace.value.dues import value_share_due
from marketplace.value.models import ValueReport
from marketplace.value.share_payments import pay_value_share
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.value.conftest import award


def period(awarded, first_day: int, last_day: int, amount: int = 1_000_000, **extra):
    start = awarded.awarded_on + timedelta(days=first_day)
    return {
        "period_start": start,
        "period_end": awarded.awarded_on + timedelta(days=last_day),
        "value_amount": amount,
        "currency": "USD",
        "evidence": "Q1 sales ledger, capsule line",
        **extra,
    }


def owed(email: str) -> int:
    account = chart.payable(db.session, user(email).id, "USD")
    return account.credits_posted - account.debits_posted


def receivable() -> int:
    acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
    account = chart.receivable(db.session, acme.id, "USD")
    return account.debits_posted - account.credits_posted


def test_the_locked_split_is_the_first_contribution_record(app, awarded):
    with app.app_context():
        records = contributions.contributions_of(user(awarded.lead), awarded.award_id)
        assert sorted((r.user.email, r.weight, r.kind) for r in records) == [
            (awarded.partner, 4000, "split"),
            (awarded.lead, 6000, "split"),
        ]
        assert all(r.confirmed_at is not None for r in records)


def test_value_share_is_exact_to_the_cent_with_uneven_weights(app, people, awarded):
    with app.app_context():
        helper = UserFactory(email="helper@example.com")
        later = contributions.record_contribution(
            user(people.manager), awarded.award_id, helper.email, 2500, "Scaled up the coating"
        )
        # Not counted until the person credited confirms it.
        assert helper.id not in contributions.weights(award(awarded.award_id))
        contributions.confirm_contribution(helper, later.id)
        report = reports.report_value(
            user(people.manager), awarded.award_id, period(awarded, 0, 89, 1_234_567)
        )
        # 5 % of 12,345.67 is 617.2835: 617.28 is owed, split 6000 : 4000 : 2500 by largest
        # remainder (296.2944, 197.5296, 123.456 -> 296.29, 197.53, 123.46).
        assert report.share_amount == 61_728
        assert report.shares == {
            str(user(awarded.lead).id): 29_629,
            str(user(awarded.partner).id): 19_753,
            str(helper.id): 12_346,
        }
        assert sum(report.shares.values()) == report.share_amount
        assert owed(awarded.lead) == 600_000 + 29_629
        assert owed("helper@example.com") == 12_346
        assert receivable() == 61_728
        assert ledger.verify(db.session) == []


def test_only_the_person_credited_confirms_a_contribution(app, people, awarded):
    with app.app_context():
        later = contributions.record_contribution(
            user(people.manager), awarded.award_id, awarded.partner, 1000, "Follow-up trial"
        )
        with pytest.raises(Forbidden):
            contributions.confirm_contribution(user(awarded.lead), later.id)
        with pytest.raises(NotFound):
            contributions.confirm_contribution(user(people.other_solver), later.id)
        with pytest.raises(Forbidden):
            contributions.record_contribution(
                user(awarded.lead), awarded.award_id, awarded.lead, 9000, "Me again"
            )


@pytest.mark.parametrize(
    "first, last, field",
    [
        (-10, 5, "period_start"),  # starts before the award
        (700, 740, "period_start"),  # beyond the 24 months (and in the future)
        (20, 10, "period_end"),
    ],
)
def test_reports_stay_inside_the_term(app, people, awarded, first, last, field):
    with app.app_context():
        with pytest.raises(Invalid) as refused:
            reports.report_value(
                user(people.manager), awarded.award_id, period(awarded, first, last)
            )
        assert field in refused.value.errors
        assert db.session.scalar(select(func.count(ValueReport.id))) == 0


def test_overlapping_periods_are_refused(app, people, awarded):
    with app.app_context():
        manager = user(people.manager)
        reports.report_value(manager, awarded.award_id, period(awarded, 0, 89))
        with pytest.raises(Invalid, match="highlighted") as refused:
            reports.report_value(manager, awarded.award_id, period(awarded, 89, 179))
        assert "overlaps report" in refused.value.errors["period_start"][0]
        reports.report_value(manager, awarded.award_id, period(awarded, 90, 179))
        assert db.session.scalar(select(func.count(ValueReport.id))) == 2


@pytest.mark.parametrize(
    "change, field",
    [
        ({"value_amount": 0}, "value_amount"),
        ({"value_amount": 12.5}, "value_amount"),
        ({"value_amount": 19}, "value_amount"),  # 5 % of 0.19 is less than a cent
        ({"currency": "EUR"}, "currency"),
        ({"evidence": " "}, "evidence"),
    ],
)
def test_bad_reports_are_refused_and_write_nothing(app, people, awarded, change, field):
    with app.app_context():
        with pytest.raises(Invalid) as refused:
            reports.report_value(
                user(people.manager), awarded.award_id, period(awarded, 0, 30, **change)
            )
        assert field in refused.value.errors
        assert receivable() == 0


def test_a_correction_is_a_reversal_and_a_new_report(app, people, awarded):
    with app.app_context():
        manager = user(people.manager)
        first = reports.report_value(manager, awarded.award_id, period(awarded, 0, 89))
        corrected = reports.correct_report(
            manager, first.id, "Returns were not deducted", period(awarded, 0, 89, 800_000)
        )
        db.session.refresh(first)
        assert first.status == "reversed" and first.share_amount == 50_000  # unchanged
        assert corrected.corrects_id == first.id and corrected.share_amount == 40_000
        reversals = db.session.scalars(select(Transfer).where(Transfer.code == "REVERSAL")).all()
        assert len(reversals) == 2
        assert owed(awarded.lead) == 600_000 + 24_000
        assert receivable() == 40_000
        with pytest.raises(Conflict, match="already reversed"):
            reports.reverse_report(manager, first.id, "again")
        assert ledger.verify(db.session) == []


def test_a_bad_correction_changes_nothing(app, people, awarded):
    with app.app_context():
        manager = user(people.manager)
        first = reports.report_value(manager, awarded.award_id, period(awarded, 0, 89))
        with pytest.raises(Invalid):
            reports.correct_report(manager, first.id, "typo", period(awarded, 0, 89, -5))
        db.session.expire_all()
        assert db.session.get(ValueReport, first.id).status == "posted"
        assert receivable() == 50_000


@pytest.mark.parametrize("who, refusal", [("reviewer", Forbidden), ("rival", NotFound),
                                          ("solver", Forbidden)])  # fmt: skip
def test_only_the_seekers_owners_managers_and_finance_report(app, people, awarded, who, refusal):
    with app.app_context():
        with pytest.raises(refusal):
            reports.report_value(
                user(getattr(people, who)), awarded.award_id, period(awarded, 0, 30)
            )
        assert (
            reports.report_value(
                user(people.finance), awarded.award_id, period(awarded, 0, 30)
            ).share_amount
            == 50_000
        )


def test_the_seeker_pays_the_share_through_the_provider(app, people, awarded):
    with app.app_context(), app.test_request_context():
        report = reports.report_value(
            user(people.manager), awarded.award_id, period(awarded, 0, 30)
        )
        assert value_share_due(report.id) == 50_000
        payment = pay_value_share(user(people.finance), report.id)
        assert payment.status == PaymentStatus.SETTLED and payment.amount == 50_000
        assert receivable() == 0
        assert value_share_due(report.id) == 0
        with pytest.raises(Conflict, match="Nothing is due"):
            pay_value_share(user(people.finance), report.id)
        assert db.session.scalar(select(func.count(Payment.id)).where(
            Payment.value_report_id == report.id)) == 1  # fmt: skip


def test_the_seeking_organizations_own_people_cannot_be_credited(app, people, awarded):
    with app.app_context():
        for email in (people.manager, people.owner):
            with pytest.raises(Invalid) as refused:
                contributions.record_contribution(
                    user(people.manager), awarded.award_id, email, 1_000_000, "Our own work"
                )
            assert "Members of the seeking organization" in refused.value.errors["email"][0]
        assert contributions.weights(award(awarded.award_id)) == {
            user(awarded.lead).id: 6000,
            user(awarded.partner).id: 4000,
        }


def test_a_correction_of_a_paid_report_is_not_billed_twice(app, people, awarded):
    with app.app_context(), app.test_request_context():
        manager = user(people.manager)
        first = reports.report_value(manager, awarded.award_id, period(awarded, 0, 89))
        pay_value_share(manager, first.id)  # 500.00 paid
        lower = reports.correct_report(
            manager, first.id, "Returns", period(awarded, 0, 89, 800_000)
        )
        assert value_share_due(lower.id) == 0  # 400.00 owed, 500.00 paid already
        higher = reports.correct_report(
            manager, lower.id, "Late invoices", period(awarded, 0, 89, 1_200_000)
        )
        assert value_share_due(higher.id) == 10_000  # 600.00 owed less the 500.00 paid
        assert pay_value_share(manager, higher.id).amount == 10_000
        assert receivable() == 0
