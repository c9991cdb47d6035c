"""A solver's earnings: owed, pending and paid per currency, and the lines that explain them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from marketplace.extensions import db
from marketplace.payouts import batches
from marketplace.value import contributions, reports
from marketplace.value.earnings import CSV_HEADER, award_overview, earnings, earnings_csv
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.payments.conftest import sandbox_app  # noqa: F401
from tests.payouts.conftest import finance, onboard  # noqa: F401
from tests.second_factors import fresh_code
from tests.value.test_reports import period


def usd(email: str):
    (found,) = earnings(user(email))
    assert found.currency == "USD"
    assert sum(line.amount for line in found.lines) == found.owed  # the lines explain it
    return found


def test_an_award_and_a_value_report_explained_to_the_cent(app, people, awarded):
    with app.app_context():
        report = reports.report_value(
            user(people.manager), awarded.award_id, period(awarded, 0, 89, 1_234_567)
        )
        lead = usd(awarded.lead)
        # 5 % of 12,345.67 is 617.28, split 6000 : 4000 -> 370.37 and 246.91.
        assert (lead.owed, lead.pending, lead.paid) == (600_000 + 37_037, 0, 0)
        share, prize = lead.lines  # newest first
        assert (share.kind, share.amount, share.status) == ("value_share", 37_037, "posted")
        assert (share.report_id, share.weight, share.total_weight) == (report.id, 6000, 10_000)
        assert share.period_start == awarded.awarded_on
        assert share.period_end == awarded.awarded_on + timedelta(days=89)
        assert (prize.kind, prize.amount, prize.prize_rank, prize.share_bp) == (
            "award",
            600_000,
            1,
            6000,
        )
        assert (prize.proposal_id, prize.challenge_id) == (
            awarded.proposal_id,
            awarded.challenge_id,
        )
        assert prize.terms_version == 1
        assert "60 %" in prize.description
        partner = usd(awarded.partner)
        assert partner.owed == 400_000 + 24_691
        assert [line.amount for line in partner.lines] == [24_691, 400_000]
        assert earnings(user(people.other_solver)) == []


def test_a_reversed_report_shows_reversed_and_the_owed_amount_drops(app, people, awarded):
    with app.app_context():
        manager = user(people.manager)
        report = reports.report_value(manager, awarded.award_id, period(awarded, 0, 89))
        assert usd(awarded.lead).owed == 600_000 + 30_000
        reports.reverse_report(manager, report.id, "Counted twice")
        lead = usd(awarded.lead)
        assert lead.owed == 600_000
        reversal, share, prize = lead.lines
        assert (reversal.kind, reversal.amount, reversal.report_id) == (
            "value_share_reversal",
            -30_000,
            report.id,
        )
        assert "Counted twice" in reversal.description
        assert (share.kind, share.status, share.amount) == ("value_share", "reversed", 30_000)
        assert prize.kind == "award"


def test_payouts_pending_paid_and_returned(app, sandbox_app, people, awarded, finance):  # noqa: F811
    onboard(app, awarded.lead)
    with app.app_context(), app.test_request_context():
        first = batches.prepare_batch(user(finance.preparer), "USD", 100)
        lead = usd(awarded.lead)
        assert (lead.owed, lead.pending, lead.paid) == (0, 600_000, 0)
        assert (lead.lines[0].kind, lead.lines[0].status, lead.lines[0].amount) == (
            "payout",
            "reserved",
            -600_000,
        )
        assert lead.lines[0].batch_id == first.id
        batches.reject_batch(user(finance.approver), first.id, "Wrong minimum")
        db.session.expire_all()
        lead = usd(awarded.lead)
        assert (lead.owed, lead.pending, lead.paid) == (600_000, 0, 0)
        assert [(line.kind, line.status) for line in lead.lines] == [
            ("payout_returned", "posted"),
            ("payout", "voided"),
            ("award", "posted"),
        ]
        second = batches.prepare_batch(user(finance.preparer), "USD", 100)
        # the sandbox pays at once
        batches.approve_batch(user(finance.approver), second.id, fresh_code(finance.approver))
        db.session.expire_all()
        lead = usd(awarded.lead)
        assert (lead.owed, lead.pending, lead.paid) == (0, 0, 600_000)
        assert (lead.lines[0].kind, lead.lines[0].status, lead.lines[0].batch_id) == (
            "payout",
            "paid",
            second.id,
        )


def test_the_csv_has_a_header_and_one_row_per_line(app, people, awarded):
    with app.app_context():
        manager = user(people.manager)
        report = reports.report_value(manager, awarded.award_id, period(awarded, 0, 89))
        reports.reverse_report(manager, report.id, "Counted twice")
        rows = list(csv.reader(io.StringIO(earnings_csv(user(awarded.lead)))))
        assert rows[0] == CSV_HEADER
        assert [(r[1], r[3], r[4], r[5], r[6]) for r in rows[1:]] == [
            ("value_share_reversal", "posted", "USD", "-30000", "-300.00"),
            ("value_share", "reversed", "USD", "30000", "300.00"),
            ("award", "posted", "USD", "600000", "6000.00"),
        ]
        assert rows[3][0] == awarded.awarded_on.isoformat()
        assert list(csv.reader(io.StringIO(earnings_csv(user(people.other_solver))))) == [
            CSV_HEADER
        ]


def test_a_later_contributor_earns_value_shares_only_once_confirmed(app, people, awarded):
    with app.app_context():
        helper = UserFactory(email="helper@example.com")
        later = contributions.record_contribution(
            user(people.manager), awarded.award_id, helper.email, 2500, "Scaled up the coating"
        )
        assert award_overview(helper, awarded.award_id).award.id == awarded.award_id
        contributions.confirm_contribution(helper, later.id)
        reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89))
        (found,) = earnings(helper)
        # 500.00 split 6000 : 4000 : 2500 -> 240.00, 160.00, 100.00.
        assert [(line.kind, line.amount, line.weight) for line in found.lines] == [
            ("value_share", 10_000, 2500)
        ]
        assert found.owed == 10_000
