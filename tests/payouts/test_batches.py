"""Payout batches on the sandbox provider: four eyes, reservations, rejection, who is paid."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import ledger
from ledger import Transfer
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.payouts import batches
from marketplace.payouts.models import PayoutBatch, PayoutLine
from tests.challenges.conftest import user
from tests.payouts.conftest import onboard
from tests.second_factors import fresh_code


def balances(email: str) -> tuple[int, int]:
    """(available, reserved) of the solver's payable."""
    account = chart.payable(db.session, user(email).id, "USD")
    return account.available, account.debits_pending


def test_a_batch_reserves_then_a_second_user_approves_and_it_pays(app, sandbox_app, finance, owed):
    onboard(app, owed.lead, owed.partner)
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 100)
        assert (batch.line_count, batch.total, batch.status) == (2, 1_000_000, "prepared")
        assert balances(owed.lead) == (0, 600_000)  # reserved, not owed twice
        with pytest.raises(Forbidden, match="Four eyes"):
            batches.approve_batch(user(finance.preparer), batch.id, fresh_code(finance.preparer))
        assert db.session.get(PayoutBatch, batch.id).status == "prepared"
        # jobs run inline: it pays
        batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
        db.session.expire_all()
        batch = db.session.get(PayoutBatch, batch.id)
        assert batch.status == "completed" and batch.approved_by_id == user(finance.approver).id
        assert batches.progress(batch)["paid"] == 2
        assert balances(owed.lead) == (0, 0)
        payable = chart.payable(db.session, user(owed.partner).id, "USD")
        assert payable.debits_posted == 400_000
        posted = db.session.scalars(select(Transfer).where(Transfer.code == "PAYOUT")).all()
        assert sorted(t.status for t in posted) == ["posted", "posted"]
        assert ledger.verify(db.session) == []
        with pytest.raises(Conflict, match="Nobody is owed"):
            batches.prepare_batch(user(finance.preparer), "USD", 100)


def test_only_solvers_who_can_be_paid_and_are_owed_the_minimum_are_in_a_batch(
    app, sandbox_app, finance, owed
):
    onboard(app, owed.lead)  # the partner has no payout account yet
    with app.app_context(), app.test_request_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 100)
        lines = batches.lines_of(user(finance.preparer), batch.id)
        assert [(line.user_id, line.amount) for line in lines] == [(user(owed.lead).id, 600_000)]
        assert balances(owed.partner) == (400_000, 0)
    onboard(app, owed.partner)
    with app.app_context(), pytest.raises(Conflict, match="Nobody is owed at least 5,000.00"):
        batches.prepare_batch(user(finance.preparer), "USD", 500_000)


def test_a_rejected_batch_voids_its_reservations(app, sandbox_app, finance, owed):
    onboard(app, owed.lead, owed.partner)
    with app.app_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 100)
        with pytest.raises(Invalid):
            batches.reject_batch(user(finance.approver), batch.id, " ")
        batches.reject_batch(user(finance.preparer), batch.id, "Wrong minimum")
        assert balances(owed.lead) == (600_000, 0)
        lines = db.session.scalars(select(PayoutLine)).all()
        assert {line.status for line in lines} == {"voided"}
        with pytest.raises(Conflict):
            batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
        assert ledger.verify(db.session) == []
        again = batches.prepare_batch(user(finance.approver), "USD", 100)
        assert again.total == 1_000_000


@pytest.mark.parametrize("who", ["solver", "manager", "finance"])
def test_only_platform_finance_staff_handle_batches(app, sandbox_app, people, finance, owed, who):
    onboard(app, owed.lead)
    with app.app_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 100)
        intruder = user(getattr(people, who))  # Acme's own finance member is not platform staff
        for attempt in (
            lambda: batches.prepare_batch(intruder, "USD", 100),
            lambda: batches.approve_batch(intruder, batch.id, "000000"),
            lambda: batches.reject_batch(intruder, batch.id, "no"),
            lambda: batches.resend_batch(intruder, batch.id),
            lambda: batches.lines_of(intruder, batch.id),
        ):
            with pytest.raises(Forbidden):
                attempt()
        assert db.session.get(PayoutBatch, batch.id).status == "prepared"
        with pytest.raises(NotFound):
            batches.approve_batch(user(finance.approver), 10**9, fresh_code(finance.approver))


@pytest.mark.parametrize(
    "currency, minimum, field",
    [("usd", 100, "currency"), ("USD", 0, "minimum"), ("USD", 2.5, "minimum")],
)
def test_bad_batch_input_is_refused(app, finance, currency, minimum, field):
    with app.app_context():
        with pytest.raises(Invalid) as refused:
            batches.prepare_batch(user(finance.preparer), currency, minimum)
        assert field in refused.value.errors
        assert db.session.scalar(select(func.count(PayoutBatch.id))) == 0


def test_value_shares_are_paid_out_only_once_the_seeker_has_paid_them(
    app, sandbox_app, people, finance, owed
):
    from datetime import timedelta

    from marketplace.judging.models import Award
    from marketplace.value import reports
    from marketplace.value.share_payments import pay_value_share

    onboard(app, owed.lead)
    with app.app_context(), app.test_request_context():
        award = db.session.scalar(select(Award))
        award.awarded_at -= timedelta(days=100)
        db.session.commit()
        start = award.awarded_at.date()
        report = reports.report_value(user(people.manager), award.id, {
            "period_start": start, "period_end": start + timedelta(days=30),
            "value_amount": 1_000_000, "currency": "USD", "evidence": "Sales",
        })  # fmt: skip
        assert report.shares[str(user(owed.lead).id)] == 30_000  # 60 % of 5 % of 10,000.00
        held = batches.prepare_batch(user(finance.preparer), "USD", 1)
        assert held.total == 600_000  # the prize, not the unpaid value share
        batches.reject_batch(user(finance.approver), held.id, "Wait for Acme")
        pay_value_share(user(people.finance), report.id)
        paid_in = batches.prepare_batch(user(finance.preparer), "USD", 1)
        assert paid_in.total == 630_000
